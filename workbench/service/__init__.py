"""The JupyterHub-managed workbench service: the one process of a center that holds the store URL,
the course sources (solutions, hidden tests) and the grader.

It is a Jupyter server run the way JupyterHub runs a notebook as a service
(``jupyterhub-singleuser`` with ``JUPYTERHUB_SERVICE_*`` set by the hub): identity comes from
``HubOAuth``, and it serves the very handler modules a personal server serves (``workbench.server``),
with ``Workbench.hub_service`` on. ``app.py`` starts it; ``authorizer.py`` closes everything of
the service's own account but the workbench API; ``client.py`` is how users' servers call it;
``hub_config.py`` writes the hub's side of a deployment.
"""
