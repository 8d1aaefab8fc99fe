"""ipywidgets used in notebooks: session status (``session.py``); submit and progress widgets join here."""
