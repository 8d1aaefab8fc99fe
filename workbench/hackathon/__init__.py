"""Hackathon events: teams on leased devices, ranked on hidden data they never see.

One module per job: ``model`` (plain data for an event), ``loader`` and ``event_sections``
(event.yaml, validated like course.yaml), ``check`` (the event's data too, and a summary),
``metrics``, ``predictions`` (a submitted CSV checked against the hidden ids), ``split`` (the seeded
public/private split), ``hidden_set`` (the labels, read once), ``scoring`` (both splits at once, in
the trusted process), ``notebook_run`` (a notebook submission in the grading sandbox), ``teams``,
``submissions`` (immutable records, windows and limits), ``board`` (ranking, final selection,
shake-up).
"""
