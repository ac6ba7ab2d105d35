"""The Runs panel feature: past runs at hand.

- :mod:`.view`: :class:`~.view.RunsPanel`, the table of a session's runs (listed off the GUI
  thread) with Open, Compare, Infer with this run, Resume, Settings, Load settings, Diff;
- :mod:`.controller`: :class:`~.controller.ResultsController`, which acts on its requests
  (results read off the GUI thread) and shows them through the window's intent methods.
"""
