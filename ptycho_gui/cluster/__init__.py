"""The cluster feature: a run written on a cluster and followed from this window.

- :mod:`.controller`: :class:`~.controller.ClusterController`, Runs > Run on a cluster… and
  Runs > Follow a run folder…;
- :mod:`.dialog`: :class:`~.dialog.ClusterDialog` (the SLURM job: session and batch script);
- :mod:`.follow`: :class:`~.follow.FollowWindow` (a run folder another process writes).
"""
