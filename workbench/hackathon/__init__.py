"""Hackathon events: teams on leased devices, ranked on hidden data they never see.

One module per job: ``model`` (plain data for an event), ``loader`` (event.yaml, validated like
course.yaml), ``metrics``, ``predictions`` (a submitted CSV checked against the hidden ids),
``split`` (the seeded public/private split), ``scoring`` (both splits at once, in the trusted
process), ``teams``, ``submissions`` (immutable records, windows and limits), ``board`` (ranking,
final selection, shake-up).
"""
