"""pyqtgraph views: reconstruction, loss curves, patterns, positions, probe, log."""
