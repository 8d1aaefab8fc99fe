"""Hackathon events and teams over REST: list and read events, create / join / leave / merge teams.

Organisers of an event are named, as instructors are (``roles.py``), only by what users cannot
write: the event's ``organisers`` in event.yaml (the organiser's file), the hub groups
``organisers`` (every event) and ``organisers:<event>``, and the admin's ``Workbench.instructors``
/ ``default_role = instructor`` (a personal server's owner runs their own events). Everyone else
acts as themselves and as a member of their one team.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from workbench.devices.quota import event_team_hours
from workbench.hackathon import catalog, teams
from workbench.hackathon.model import Event
from workbench.server.base import WorkbenchHandler
from workbench.server.openapi import ERRORS, NOT_FOUND, param
from workbench.store.models import utcnow

GROUP = "organisers"


class EventHandler(WorkbenchHandler):
    def event(self, event_id: str) -> Event:
        return catalog.event(self.store, event_id)

    def organises(self, event: Event) -> bool:
        who, settings = self.identity, self.workbench
        return (who.name in event.organisers or who.name in settings.instructors
                or settings.default_role == "instructor" or GROUP in who.groups
                or f"{GROUP}:{event.id}" in who.groups)

    def require_organiser(self, event: Event) -> None:
        if not self.organises(event):
            raise web.HTTPError(403, f"user '{self.username}' is not an organiser of event '{event.id}'; an admin "
                                     f"adds you to the hub group 'organisers:{event.id}', or the organiser to "
                                     "organisers in event.yaml")

    def my_team(self, event: Event) -> str | None:
        return teams.team_of(self.store, event.id, self.username)

    def require_team(self, event: Event) -> str:
        team = self.my_team(event)
        if team is None:
            raise web.HTTPError(403, f"user '{self.username}' is in no team of event '{event.id}'; create or join "
                                     "one first (POST events/{event}/teams)")
        return team

    def text_field(self, body: dict[str, Any], key: str) -> str:
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise web.HTTPError(400, f'send {{"{key}": "<{key}>"}} as a JSON string')
        return value


class EventsHandler(EventHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.send({"events": catalog.events(self.store)})


class EventDetailHandler(EventHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str) -> None:
        event = self.event(event_id)
        me = {"user": self.username, "team": self.my_team(event), "organiser": self.organises(event)}
        self.send({**catalog.summary(self.store, event), "me": me})


class TeamsHandler(EventHandler):
    @web.authenticated
    @authorized
    def get(self, event_id: str) -> None:
        """Teams with members and counted submissions; organisers also see each team's device-hours."""
        event = self.event(event_id)
        listed = teams.teams(self.store, event.id)
        if self.organises(event):
            used = event_team_hours(self.store, event.id)
            for team in listed:
                team["device_hours"] = {"used": round(used.get(team["id"], 0.0), 4), "limit": event.quota.device_hours}
        self.send({"teams": listed})

    @web.authenticated
    @authorized
    def post(self, event_id: str) -> None:
        body = self.json_body()
        event = self.event(event_id)
        name = body.get("name", "")
        self.send(teams.create(self.store, event, self.username, self.text_field(body, "id"),
                               name if isinstance(name, str) else ""), status=201)


class TeamActionHandler(EventHandler):
    @web.authenticated
    @authorized
    def post(self, event_id: str, team_id: str, action: str) -> None:
        event = self.event(event_id)
        if action == "join":
            self.send(teams.join(self.store, event, self.username, team_id))
        elif action == "leave":
            if self.my_team(event) != team_id:
                raise web.HTTPError(403, f"user '{self.username}' is not in team '{team_id}'")
            self.send(teams.leave(self.store, event, self.username))
        elif action == "merge":
            target = self.text_field(self.json_body(), "into")
            self.send(teams.merge(self.store, event, self.username, team_id, target, utcnow(),
                                  organiser=self.organises(event)))
        else:
            raise web.HTTPError(404, f"no team action '{action}'; use join, leave or merge")


ROUTES = [
    ("events", EventsHandler),
    (r"events/(?P<event_id>[^/]+)", EventDetailHandler),
    (r"events/(?P<event_id>[^/]+)/teams", TeamsHandler),
    (r"events/(?P<event_id>[^/]+)/teams/(?P<team_id>[^/]+)/(?P<action>[^/]+)", TeamActionHandler),
]
_OBJ = {"description": "JSON object", "content": {"application/json": {"schema": {"type": "object"}}}}
_EV = [param("event_id")]
PATHS = {
    "/events": {"get": {"summary": "Registered hackathon events (title, window, phases, metric, limits)",
                        "responses": {"200": _OBJ, **ERRORS}}},
    "/events/{event_id}": {"get": {"summary": "One event, with the caller's team and organiser role (me)",
                                   "parameters": _EV, "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/teams": {
        "get": {"summary": "Teams with members and counted submissions", "parameters": _EV,
                "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}},
        "post": {"summary": "Create a team with the caller as its first member (self-registration events)",
                 "parameters": _EV, "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["id"],
                     "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}}}},
                 "responses": {"201": _OBJ, **ERRORS, **NOT_FOUND}}},
    "/events/{event_id}/teams/{team_id}/{action}": {"post": {
        "summary": "join (up to teams.max_size), leave (own team) or merge into {\"into\": team}: a merge "
                   "happens when a member of each team asked for it (or an organiser does), before the merge "
                   "deadline, and is refused when the two teams' counted submissions exceed what one team may "
                   "have made by then",
        "parameters": [*_EV, param("team_id"), {"name": "action", "in": "path", "required": True,
                                                "schema": {"type": "string", "enum": ["join", "leave", "merge"]}}],
        "responses": {"200": _OBJ, **ERRORS, **NOT_FOUND}}},
}
