"""Runs > Run on a cluster…: the dialog.

:class:`ClusterDialog` edits what a SLURM job needs (run folder, nodes, devices per node,
accelerator, ``training.max_time_min``) on top of the session, previews the batch script of
:func:`engine.cluster.batch_script` as it will be written, and writes the session and the
script into the run folder (:func:`engine.cluster.write_cluster_job`), submitting it with
``sbatch`` when this machine has it. :class:`ClusterController` connects the two menu actions,
and opens a :class:`~ptycho_gui.follow.FollowWindow` on the folder afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.cluster import ClusterJob, Submission, batch_script, plan_cluster_job, submit
from engine.cluster import write_cluster_job as write_job
from engine.config import GUI_SOURCE, ResolvedConfig
from engine.errors import EngineError

from ..dialogs import choose_folder
from ..run_controller import next_run_folder

if TYPE_CHECKING:
    from ..document import SessionDocument

SOURCE = f"{GUI_SOURCE} cluster dialog"
ACCELERATORS = ("gpu", "cpu", "auto")


class ClusterDialog(QDialog):
    """The job's settings, the script it writes, and Write / Cancel.

    ``job`` and ``submission`` hold what :meth:`write` did (None before).
    """

    def __init__(self, document: SessionDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cluster-dialog")
        self.setWindowTitle("Run on a cluster (SLURM)")
        self.document = document
        self.job: ClusterJob | None = None
        self.submission: Submission | None = None
        cfg = document.config
        self.folder_edit = QLineEdit(str(next_run_folder(
            Path(document.folder, cfg.training.output_dir))))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 4096)
        self.nodes.setValue(cfg.execution.num_nodes)
        self.devices = QSpinBox()
        self.devices.setRange(1, 256)
        self.devices.setValue(cfg.execution.devices if isinstance(cfg.execution.devices, int)
                              and cfg.execution.devices > 0 else 1)
        self.accelerator = QComboBox()
        self.accelerator.addItems(ACCELERATORS)
        self.accelerator.setCurrentText(cfg.execution.accelerator
                                        if cfg.execution.accelerator in ACCELERATORS else "gpu")
        self.minutes = QSpinBox()
        self.minutes.setRange(0, 1_000_000)
        self.minutes.setSuffix(" min")
        self.minutes.setSpecialValueText("no limit (the cluster's default)")
        self.minutes.setValue(round(cfg.training.max_time_min))
        self.minutes.setToolTip("training.max_time_min: the run stops itself then; the job "
                                "gets 10 minutes more to write its results")
        self.sbatch = shutil.which("sbatch")
        self.submit_box = QCheckBox("Submit with sbatch" if self.sbatch else
                                    "Submit with sbatch (not found on this machine: the script "
                                    "is written, submit it on the cluster)")
        self.submit_box.setChecked(self.sbatch is not None)
        self.submit_box.setEnabled(self.sbatch is not None)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setObjectName("cluster-script")
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d32f2f;")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Run folder (shared by the nodes)", folder_row)
        form.addRow("Nodes", self.nodes)
        form.addRow("Devices per node", self.devices)
        form.addRow("Accelerator", self.accelerator)
        form.addRow("Training time limit", self.minutes)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.write_button = self.buttons.addButton(
            "Write script", QDialogButtonBox.ButtonRole.AcceptRole)
        self.write_button.clicked.connect(self.write)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.submit_box)
        layout.addWidget(QLabel("slurm_job.sh:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        for signal in (self.folder_edit.textChanged, self.nodes.valueChanged,
                       self.devices.valueChanged, self.accelerator.currentTextChanged,
                       self.minutes.valueChanged):
            signal.connect(self.refresh)
        self.resize(720, 560)
        self.refresh()

    def layer(self) -> dict[str, tuple[Any, str]]:
        """The dialog's values as a GUI layer over the session."""
        return {"execution.num_nodes": (self.nodes.value(), SOURCE),
                "execution.devices": (self.devices.value(), SOURCE),
                "execution.accelerator": (self.accelerator.currentText(), SOURCE),
                "training.max_time_min": (float(self.minutes.value()), SOURCE),
                "training.output_dir": (self.folder_edit.text().strip(), SOURCE)}

    def _resolved(self) -> ResolvedConfig:
        return self.document.run_config(self.layer())

    def refresh(self) -> None:
        """Show the script as it would be written, or why it cannot be."""
        try:
            job = plan_cluster_job(self._resolved(), self.folder_edit.text().strip())
        except EngineError as exc:
            self.preview.setPlainText("")
            self.problem.setText(str(exc))
            self.write_button.setEnabled(False)
            return
        self.preview.setPlainText(batch_script(job))
        self.problem.setText("")
        self.write_button.setEnabled(True)

    def write(self) -> None:
        """Write the session and the script (and submit); accept, or show why not."""
        try:
            self.job = write_job(self._resolved(), self.folder_edit.text().strip())
            if self.submit_box.isChecked():
                self.submission = submit(self.job)
        except EngineError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def _browse(self) -> None:
        chosen = choose_folder(self, "Run folder of the cluster job",
                               Path(self.folder_edit.text()).parent)
        if chosen:
            self.folder_edit.setText(chosen)
