"""Runs > Run on a cluster… and Runs > Follow a run folder…: the two menu actions, the
cluster dialog (:mod:`.dialog`) and the follow windows (:mod:`.follow`) they open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from ..feature_controller import FeatureController
from .dialog import ClusterDialog
from .follow import FollowWindow

if TYPE_CHECKING:
    from ..dialogs import Dialogs
    from ..document import SessionDocument
    from ..main_window import MainWindow


class ClusterController(FeatureController):
    """The two menu actions; keeps the follow windows it opened (``followers``, children of
    the main window: they close with it)."""

    def __init__(self, window: MainWindow, document: SessionDocument, dialogs: Dialogs,
                 parent: QObject | None = None) -> None:
        super().__init__(window, document, dialogs, parent)
        self.dialog: ClusterDialog | None = None
        self.followers: list[FollowWindow] = []
        window.action_cluster.triggered.connect(self.run_on_cluster)
        window.action_follow.triggered.connect(self.ask_follow)

    def run_on_cluster(self) -> None:
        """Open the dialog (window-modal, the event loop keeps running)."""
        self.dialog = ClusterDialog(self.document, self.window)
        self.dialog.accepted.connect(self._written)
        self.dialog.open()

    def _written(self) -> None:
        dialog = self.dialog
        if dialog is None or dialog.job is None:
            return
        job, sent = dialog.job, dialog.submission
        self.window.log("info", f"Wrote {job.session} and {job.script}")
        if sent is not None:
            self.window.log("info", sent.message)
        self.window.show_state(sent.message if sent is not None and sent.submitted else
                               f"Wrote {job.script}: submit it with sbatch on the cluster")
        self.follow(job.run_dir)

    def ask_follow(self) -> None:
        chosen = self.dialogs.choose_folder(self.window, "Follow a run folder",
                                            Path(self.document.folder))
        if chosen:
            self.follow(chosen)

    def follow(self, folder: str | Path) -> FollowWindow:
        """Open a window following ``folder``."""
        self.followers = [w for w in self.followers if w.isVisible()]
        follower = FollowWindow(folder, parent=self.window)  # closes with the main window
        self.followers.append(follower)
        follower.show()
        return follower
