"""The one configuration schema of the product.

Every setting lives here exactly once, with its type, its single default and the metadata that
drives every surface: the GUI forms, the CLI flags, session files, validation messages and the
generated reference in ``docs/configuration.md``. Nothing in this module imports torch or Qt.

Adding a field here adds it to the GUI, the CLI (``--set section.field=value``), session files
and the docs; no other file lists fields.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin, get_type_hints

SCHEMA_VERSION = 1
"""Version of the session-file layout written by this release (see ``session.MIGRATIONS``)."""


@dataclass(frozen=True)
class FieldMeta:
    """Metadata attached to every schema field.

    Attributes
    ----------
    help
        One-sentence description shown as tooltip, CLI help and in the docs.
    unit
        Physical or practical unit ("photons", "m", "eV", "px", "s"), or ``None``.
    min, max
        Inclusive numeric bounds (required for every int and float field).
    step
        Increment of the GUI spin box.
    choices
        Allowed values of an enumeration.
    group
        Sub-heading inside the section (GUI group box, docs sub-table).
    advanced
        Folded away in the GUI by default.
    path
        The value is a file-system path; relative paths in a session file resolve against
        the file's folder.
    flag
        The field also gets its own CLI flag (``--field-name``); all execution fields do.
    """

    help: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    group: str = "general"
    advanced: bool = False
    path: bool = False
    flag: bool = False


def setting(default: Any, help: str, **meta: Any) -> Any:
    """Declare a schema field: its single default and its :class:`FieldMeta`."""
    if "choices" in meta and meta["choices"] is not None:
        meta["choices"] = tuple(meta["choices"])
    return field(default=default, metadata={"ptycho": FieldMeta(help=help, **meta)})


# ----------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """Where the measured data come from and how to read them."""

    path: str = setting(
        "",
        "Data source: a PtychoPINN NPZ file, a ptychodus product .h5 (with diffraction_path), "
        "or a ptychodus standard-layout folder (product.h5 next to diffraction.h5).",
        path=True,
        group="source",
    )
    diffraction_path: str = setting(
        "",
        "Ptychodus diffraction .h5 paired with a product file given in path "
        "(empty: diffraction.h5 next to it).",
        path=True,
        group="source",
    )
    measurement: str = setting(
        "auto",
        "Domain of the stored patterns: photon counts, or amplitude = sqrt(counts). "
        "'auto' uses file metadata, then a stated near-integer heuristic with a warning.",
        choices=("auto", "counts", "amplitude"),
        group="source",
    )
    probe_path: str = setting(
        "",
        "Optional probe file (NPZ with probeGuess or a product .h5) replacing the data's probe.",
        path=True,
        group="probe",
    )
    probe_scale: str = setting(
        "fit",
        "How the probe intensity is scaled: 'fit' matches the forward model to the data's mean "
        "counts (recommended across tools), 'file' trusts the probe's stored scale.",
        choices=("fit", "file"),
        group="probe",
    )
    n_images: int = setting(
        0,
        "Use only the first n_images patterns (0: all).",
        min=0,
        max=100_000_000,
        step=100,
        group="selection",
    )
    memory_budget_mb: int = setting(
        4096,
        "Datasets larger than this are streamed from disk in chunks instead of loaded into memory.",
        unit="MiB",
        min=16,
        max=4_194_304,
        step=256,
        group="selection",
        advanced=True,
    )
    photon_energy_ev: float = setting(
        0.0,
        "Photon energy, used to convert positions between pixels and metres when the file "
        "lacks it (0: take it from the file).",
        unit="eV",
        min=0.0,
        max=1.0e6,
        step=100.0,
        group="geometry",
        advanced=True,
    )
    detector_distance_m: float = setting(
        0.0,
        "Sample-detector distance when the file lacks it (0: take it from the file).",
        unit="m",
        min=0.0,
        max=1000.0,
        step=0.1,
        group="geometry",
        advanced=True,
    )
    detector_pixel_size_m: float = setting(
        0.0,
        "Detector pixel size when the file lacks it (0: take it from the file).",
        unit="m",
        min=0.0,
        max=0.1,
        step=1e-6,
        group="geometry",
        advanced=True,
    )
    object_pixel_size_m: float = setting(
        0.0,
        "Object pixel size, for positions given in metres when the file has no geometry "
        "(0: from the file, else lambda * z / (N * detector pixel)).",
        unit="m",
        min=0.0,
        max=1.0,
        step=1e-9,
        group="geometry",
        advanced=True,
    )
    crop: int = setting(
        0,
        "Crop every pattern to its central crop x crop pixels (after binning; 0: keep the "
        "pattern size). The object pixel grows by the same factor.",
        unit="px",
        min=0,
        max=8192,
        step=8,
        group="geometry",
        advanced=True,
    )
    bin: int = setting(
        1,
        "Sum bin x bin detector pixels into one (1: no binning); the pattern side must be a "
        "multiple of it.",
        min=1,
        max=16,
        step=1,
        group="geometry",
        advanced=True,
    )
    entry: str = setting(
        "",
        "CXI entry to read (e.g. entry_2) when a file holds several (empty: the only one).",
        group="source",
        advanced=True,
    )
    allow_external_links: bool = setting(
        False,
        "Follow HDF5 external links to files outside the data file's own folder (links to "
        "files in that folder or below are always followed).",
        group="source",
        advanced=True,
    )
    layout_patterns: str = setting(
        "",
        "Declared layout: NPZ key or HDF5 dataset path of the (M, H, W) patterns in a file "
        "of any other layout (empty: the file's own format decides).",
        group="layout",
    )
    layout_positions: str = setting(
        "",
        "Declared layout: key or dataset of the (M, 2) scan positions (leading axes of size "
        "1 are dropped); needed with layout_patterns.",
        group="layout",
    )
    layout_probe: str = setting(
        "",
        "Declared layout: key or dataset of the probe, (N, N) or (..., modes, N, N) (empty: "
        "none in the file; see probe.initial).",
        group="layout",
    )
    layout_mask: str = setting(
        "",
        "Declared layout: key or dataset of an (H, W) detector mask, nonzero = bad pixel "
        "(empty: none).",
        group="layout",
    )
    layout_position_order: str = setting(
        "xy",
        "Declared layout: column order of the positions: (x, y) = (column, row), or "
        "(row, column).",
        choices=("xy", "rowcol"),
        group="layout",
    )
    layout_position_origin: str = setting(
        "centre",
        "Declared layout: each position is the centre of its probe window, or its first "
        "(corner) pixel.",
        choices=("centre", "corner"),
        group="layout",
    )
    layout_position_units: str = setting(
        "px",
        "Declared layout: unit of the positions: object pixels, or metres / millimetres / "
        "micrometres / nanometres (then the object pixel size must be known: "
        "data.object_pixel_size_m or the geometry).",
        choices=("px", "m", "mm", "um", "nm"),
        group="layout",
    )
    fftshifted: str = setting(
        "auto",
        "Are the patterns stored with the zero frequency at the centre (yes) or at pixel "
        "[0, 0] (no)? 'auto' compares the power at the corners with the centre and shifts "
        "with a warning.",
        choices=("auto", "yes", "no"),
        group="layout",
    )
    mask_values: str = setting(
        "",
        "Extra detector flag values to mask, comma-separated (e.g. '-2, 4095'); values >= "
        "65535, negative values and gap rows/columns are masked anyway.",
        group="layout",
        advanced=True,
    )


@dataclass
class ProbeConfig:
    """The illumination: where the starting probe comes from."""

    initial: str = setting(
        "auto",
        "Starting probe: the data file's (or data.probe_path), a flat disk, a Fresnel zone "
        "plate from its physical parameters, or one retrieved from the data (the mean "
        "pattern's far-field amplitude inside the disk's support). 'auto': the file's, else "
        "the disk when its far field matches the mean pattern's (correlation 0.8 or more), "
        "else the one from the data, with a note saying which.",
        choices=("auto", "file", "disk", "zone_plate", "from_data"),
        group="initial",
    )
    disk_diameter_px: float = setting(
        0.0,
        "Diameter of the 'disk' probe, and of the support of the 'from_data' probe, in "
        "object pixels (0: 2.7 times the median scan step, about 63% overlap).",
        unit="px",
        min=0.0,
        max=8192.0,
        step=1.0,
        group="model",
    )
    zone_plate_outer_zone_m: float = setting(
        0.0,
        "Outermost zone width dr of the zone plate for the 'zone_plate' probe: its numerical "
        "aperture is lambda / (2 dr); needs the photon energy, distance and detector pixel.",
        unit="m",
        min=0.0,
        max=1e-3,
        step=1e-9,
        group="model",
    )
    zone_plate_central_stop: float = setting(
        0.0,
        "Central stop diameter as a fraction of the zone plate (pupil) diameter (0: none).",
        min=0.0,
        max=0.95,
        step=0.05,
        group="model",
        advanced=True,
    )
    defocus_m: float = setting(
        0.0,
        "Distance of the sample from the focus for the 'zone_plate' probe (0: in focus).",
        unit="m",
        min=-1.0,
        max=1.0,
        step=1e-6,
        group="model",
    )
    modes: int = setting(
        3,
        "Mutually incoherent probe modes the solver refines (partial coherence); extra modes "
        "start as weak perturbed copies of the first and are kept orthogonal, their power "
        "fractions reported and saved. 0: the data's probe modes as they are.",
        min=0, max=16, step=1, group="modes",
    )


@dataclass
class ModelConfig:
    """The physics-informed network."""

    N: int = setting(
        0,
        "Side of the diffraction patterns and object patches; 0: the data's pattern size "
        "(after data.bin / data.crop; a simulation without data uses 64).",
        unit="px",
        min=0,
        max=1024,
        step=8,
        group="geometry",
    )
    gridsize: int = setting(
        3,
        "Patterns per group side: each sample is a group of gridsize^2 neighbouring patterns "
        "(1 disables grouping and the overlap constraint).",
        min=1,
        max=4,
        step=1,
        group="geometry",
    )
    n_neighbours: int = setting(
        9,
        "Nearest neighbours K from which each group is drawn (needs K >= gridsize^2).",
        min=1,
        max=64,
        step=1,
        group="geometry",
    )
    overlap_constraint: bool = setting(
        True,
        "Merge the patches of a group into a shared canvas and re-extract them before the "
        "forward model, forcing neighbours to agree (only with gridsize > 1).",
        group="physics",
    )
    consensus_weighting: str = setting(
        "probe",
        "How the overlap constraint averages a group's patches: weighted by the probe "
        "intensity |P|^2 (each pixel decided by the patterns that saw it; stitching uses the "
        "same weights, so the stitched object is what the loss checked), or uniformly over "
        "each whole patch.",
        choices=("probe", "uniform"),
        group="physics",
    )
    prior_iterations: int = setting(
        2,
        "Parameter-free ptychographic iterations (probe-weighted group average, measured "
        "amplitudes imposed) refining the physical estimate that the 'unet' generator "
        "starts from; 0 uses the one-step back-propagation only.",
        min=0,
        max=20,
        step=1,
        group="physics",
    )
    generator: str = setting(
        "unet",
        "Generator network by registry name: 'unet' refines a physics back-propagated "
        "estimate (fast, the default), 'cnn' maps detector to object plane (PtychoPINN-style), "
        "'cnn_large' is the reference-size network for GPUs.",
        choices=("unet", "cnn", "cnn_large"),
        group="network",
    )
    width: int = setting(
        16,
        "Number of channels of the first encoder level (doubles at each level); "
        "'cnn_large' uses twice as many.",
        min=4,
        max=512,
        step=4,
        group="network",
    )
    depth: int = setting(
        3,
        "Number of down-sampling levels of the encoder (and up-sampling levels of the decoder).",
        min=1,
        max=6,
        step=1,
        group="network",
    )
    activation: str = setting(
        "relu",
        "Hidden-layer activation.",
        choices=("relu", "gelu", "silu", "leaky_relu", "elu"),
        group="network",
    )
    object_output: str = setting(
        "real_imag",
        "Object heads: real and imaginary parts (with the 'unet' generator a complex residual "
        "on the physical estimate: smooth where that estimate's phase is noise, i.e. outside "
        "the beam), or amplitude (bounded positive) and phase (pi * tanh).",
        choices=("amp_phase", "real_imag"),
        group="network",
    )
    amplitude_max: float = setting(
        2.0,
        "Upper bound of the predicted object amplitude.",
        min=0.1,
        max=100.0,
        step=0.1,
        group="network",
        advanced=True,
    )
    probe_trainable: bool = setting(
        False,
        "Refine the probe together with the network (otherwise the known probe is fixed).",
        group="physics",
    )
    probe_mask: bool = setting(
        False,
        "Apply a circular support mask to the probe.",
        group="physics",
        advanced=True,
    )


@dataclass
class TrainingConfig:
    """Self-supervised training."""

    max_epochs: int = setting(
        12, "Number of passes over the training split.", min=1, max=100_000, step=1,
        group="schedule",
    )
    max_time_min: float = setting(
        0.0,
        "Stop training after this wall time (0: no limit).",
        unit="min",
        min=0.0,
        max=1.0e6,
        step=1.0,
        group="schedule",
        advanced=True,
    )
    batch_size: int = setting(
        16, "Groups per optimisation step.", min=1, max=65536, step=1, group="schedule"
    )
    val_fraction: float = setting(
        0.1,
        "Fraction of groups held out for validation (0: no validation).",
        min=0.0,
        max=0.9,
        step=0.05,
        group="schedule",
    )
    loss: str = setting(
        "poisson",
        "Training loss: Poisson negative log-likelihood on counts, or amplitude MAE.",
        choices=("poisson", "mae"),
        group="objective",
    )
    optimizer: str = setting(
        "adam", "Optimiser.", choices=("adam", "adamw", "sgd"), group="optimiser"
    )
    learning_rate: float = setting(
        3e-3, "Initial learning rate.", min=1e-8, max=10.0, step=1e-4, group="optimiser"
    )
    weight_decay: float = setting(
        0.0, "L2 weight decay.", min=0.0, max=1.0, step=1e-5, group="optimiser", advanced=True
    )
    scheduler: str = setting(
        "cosine",
        "Learning-rate schedule over the epochs.",
        choices=("none", "cosine", "step", "plateau"),
        group="optimiser",
    )
    lr_decay: float = setting(
        0.5,
        "Multiplicative decay of the 'step' and 'plateau' schedules.",
        min=0.01,
        max=1.0,
        step=0.05,
        group="optimiser",
        advanced=True,
    )
    lr_step_epochs: int = setting(
        10,
        "Epochs between decays of the 'step' schedule (patience of 'plateau').",
        min=1,
        max=10_000,
        step=1,
        group="optimiser",
        advanced=True,
    )
    gain_check_every: int = setting(
        4,
        "Every this many epochs, measure what the network's estimate gives the solver (a few "
        "solver epochs from it and from a flat object on a block of the scan) and stop "
        "training when it adds nothing or stopped gaining since the previous check (0: "
        "train all max_epochs).",
        min=0, max=10_000, step=1, group="schedule",
    )
    gain_check_solver_epochs: int = setting(
        2, "Solver epochs of each start in a gain check.", min=1, max=100, step=1,
        group="schedule", advanced=True,
    )
    gain_check_patterns: int = setting(
        256, "Patterns (those nearest the scan's centre) a gain check solves.", min=16,
        max=1_000_000, step=16, group="schedule", advanced=True,
    )
    gain_check_min_gain: float = setting(
        0.02,
        "Least gain that keeps training: the fraction of the flat start's misfit above the "
        "noise floor removed by the network's start, and its growth between two checks.",
        min=0.0, max=1.0, step=0.01, group="schedule", advanced=True,
    )
    output_dir: str = setting(
        "ptycho-run",
        "Run directory: session, provenance, checkpoints, metrics, reconstruction and summary.",
        path=True,
        group="output",
    )
    overwrite: bool = setting(
        False,
        "Replace a previous run found in output_dir (otherwise such a folder is refused).",
        group="output",
        advanced=True,
    )


@dataclass
class BeamtimeConfig:
    """A beamtime model: the network trained on many objects simulated under the measured
    scan's own conditions (probe, scan geometry, dose, detector mask), mixed with the scan."""

    simulated_training: bool = setting(
        False,
        "Train on objects simulated on the fly under the data's probe, scan geometry, dose and "
        "detector mask (never stored), supervised by their true patches and by the physics "
        "loss, mixed with the measured scan under the physics loss (ptycho-engine train "
        "--beamtime).",
    )
    steps_per_epoch: int = setting(
        100,
        "Optimisation steps per epoch of a beamtime training (each a batch of "
        "training.batch_size groups).",
        unit="steps", min=1, max=1_000_000, step=10,
    )
    groups_per_object: int = setting(
        16,
        "Groups cut from each simulated object before a new one is drawn (an object is "
        "simulated only as large as these groups need).",
        min=1, max=4096, step=1, advanced=True,
    )
    measured_fraction: float = setting(
        0.25,
        "Fraction of the batches taken from the measured scan (physics loss only); the rest "
        "are simulated.",
        min=0.0, max=1.0, step=0.05,
    )
    supervised_weight: float = setting(
        1.0,
        "Weight of the supervised loss on simulated batches (relative complex error of the "
        "group's patches after its global phase is removed, probe-weighted); 0: physics loss "
        "only.",
        min=0.0, max=1000.0, step=0.1,
    )
    object_kinds: str = setting(
        "dead_leaves,texture,siemens_star,cells",
        "Comma-separated kinds of the simulated objects: dead_leaves, texture "
        "(natural-image-like 1/f fields), siemens_star, cells (cell-like phase objects).",
        advanced=True,
    )
    amplitude_min: float = setting(
        0.3,
        "Lowest object amplitude drawn: each object's minimum amplitude is uniform in "
        "[this, 0.95].",
        min=0.0, max=0.95, step=0.05, advanced=True,
    )
    phase_max: float = setting(
        2.0,
        "Largest peak-to-peak object phase drawn: each object's phase range is uniform in "
        "[0.1, this].",
        unit="rad", min=0.1, max=6.3, step=0.1, advanced=True,
    )


@dataclass
class InferenceConfig:
    """Reconstruction of a dataset with a trained network."""

    checkpoint: str = setting(
        "", "Trained checkpoint (.ckpt) to reconstruct with.", path=True, group="input"
    )
    data_path: str = setting(
        "",
        "Data to reconstruct (same kinds as data.path; empty: data.path).",
        path=True,
        group="input",
    )
    output: str = setting(
        "reconstruction.h5",
        "Reconstruction written as a ptychodus product (PNG pictures next to it).",
        path=True,
        group="output",
    )
    refine_iterations: int = setting(
        0,
        "Parameter-free ptychographic iterations on the network's patches before stitching "
        "(probe-weighted group average, measured amplitudes imposed); 0: the network output "
        "as is (the full-object refinement, section refinement, does this job better).",
        min=0,
        max=50,
        step=1,
        group="stitching",
    )
    alignment_passes: int = setting(
        0,
        "Stitching passes that align each group's global phase (invisible to the loss) with "
        "the stitched object; 0: none (the full-object refinement removes the drift between "
        "groups). Cheap when the patches fit in 1 GiB.",
        min=0,
        max=500,
        step=1,
        group="stitching",
    )
    normalisation: str = setting(
        "data",
        "Where inference takes its dose scale from: 'data' derives the network's input "
        "normaliser from the mean counts of the data being reconstructed and scales the "
        "checkpoint's probe to that photon count (dose-invariant: a scan at another dose "
        "than the training scan works); 'checkpoint' keeps both as trained.",
        choices=("data", "checkpoint"),
        group="input",
    )
    stitch_weighting: str = setting(
        "probe",
        "Weight of each patch when stitching: probe intensity |P|^2, or a central crop mask.",
        choices=("probe", "mask"),
        group="stitching",
    )
    export_png: bool = setting(
        True, "Also write amplitude and phase PNG pictures.", group="output"
    )
    overwrite: bool = setting(
        False,
        "Replace an existing output file (and its PNG pictures); otherwise an existing file "
        "is refused. A symbolic link is never written through.",
        group="output",
        advanced=True,
    )


@dataclass
class ReconstructConfig:
    """A reconstruction by the iterative solver alone, without a network
    (``ptycho-engine reconstruct``; the solver's settings are in ``refinement``)."""

    output_dir: str = setting(
        "reconstruction",
        "Folder written: reconstruction.h5 (ptychodus product), amplitude and phase PNGs, "
        "session.toml, provenance.json and summary.json.",
        path=True,
        group="output",
    )
    initial_object: str = setting(
        "flat",
        "Where the solver starts: a flat object (1 + 0j), or the object of a file "
        "(reconstruct.object_path).",
        choices=("flat", "file"),
        group="input",
    )
    object_path: str = setting(
        "",
        "Product .h5 (ptychodus) whose object starts the solver when initial_object = 'file'.",
        path=True,
        group="input",
    )
    overwrite: bool = setting(
        False,
        "Replace the files of an earlier reconstruction in output_dir (otherwise a folder "
        "holding files is refused).",
        group="output",
        advanced=True,
    )


@dataclass
class RefinementConfig:
    """Full-object iterative reconstruction (engine.solvers): after the network's estimate, or
    alone (``ptycho-engine reconstruct``).

    The solver chosen by ``algorithm`` refines the whole object, the probe and its modes, the
    scan positions and a detector background against every measured pattern; its own options
    are in the section of the same name (``lsqml``, ``rpie``, ``gradient``).
    """

    algorithm: str = setting(
        "lsqml",
        "Solver: LSQML (mini-batched, closed-form steps), rPIE/ePIE, or gradient (automatic "
        "differentiation with Adam); each has its own options section.",
        choices=("lsqml", "rpie", "gradient"),
    )
    epochs: int = setting(
        100,
        "Most passes over all patterns (the run stops earlier when the misfit stops "
        "falling: refinement.patience); 0: no refinement.",
        unit="epochs", min=0, max=5000, step=10,
    )
    time_limit_s: float = setting(
        0.0,
        "Most wall time of the solver (a beamtime budget); the run then keeps its best state "
        "so far. 0: none, the run ends when the misfit stops falling or at "
        "refinement.epochs (a fixed cap would cut large scans short: an epoch's time grows "
        "with the number of patterns).",
        unit="s", min=0.0, max=1e6, step=60.0, group="stopping",
    )
    patience: int = setting(
        10,
        "Stopping window: stop when the whole-scan misfit fell by less than "
        "refinement.tolerance (relative) over this many epochs; 0: run to the epoch cap.",
        unit="epochs", min=0, max=1000, step=1, group="stopping", advanced=True,
    )
    tolerance: float = setting(
        2e-3,
        "Relative fall of the whole-scan misfit over refinement.patience epochs below which "
        "the run stops.",
        min=0.0, max=0.5, step=1e-3, group="stopping", advanced=True,
    )
    batch_size: int = setting(
        32,
        "Scan positions per object update at the start (smaller: more updates per epoch, "
        "noisier).",
        unit="patterns", min=1, max=65536, step=8, advanced=True,
    )
    batch_growth: int = setting(
        10,
        "The batch size doubles every this many epochs, up to all patterns (fast start, "
        "low noise at the end); 0: fixed.",
        unit="epochs", min=0, max=1000, step=1, advanced=True,
    )
    noise_model: str = setting(
        "poisson",
        "Noise model of the data misfit: Poisson maximum likelihood or Gaussian amplitudes "
        "(the amplitude projection).",
        choices=("poisson", "gaussian"), advanced=True,
    )
    regularisation: float = setting(
        0.2,
        "Update denominator floor as a fraction of the batch's peak illumination (LSQML and "
        "gradient): larger is more cautious where the probe is weak.",
        min=0.0, max=1.0, step=0.05, advanced=True,
    )
    momentum: float = setting(
        0.7,
        "Momentum of the object between epochs (accelerates low spatial frequencies; not "
        "the gradient solver, which has Adam's); 0: none.",
        min=0.0, max=0.95, step=0.05, advanced=True,
    )
    smoothness: float = setting(
        0.1,
        "Weight of a Laplacian smoothing step after each epoch at "
        "refinement.smoothness_fluence: a mild prior that keeps the solver from fitting "
        "photon noise, raised for data of lower dose (at most 0.25); 0: none.",
        min=0.0, max=0.25, step=0.01, group="prior", advanced=True,
    )
    smoothness_fluence: float = setting(
        1e4,
        "Dose (photons per illuminated object pixel) at which refinement.smoothness applies "
        "as given; data of another dose get (this / their dose)^0.18 times it. 0: the same "
        "weight at every dose.",
        unit="photons/pixel", min=0.0, max=1e12, step=1000.0, group="prior", advanced=True,
    )
    smoothness_off_fluence: float = setting(
        1e5,
        "Dose at and above which the smoothness prior is off: the data fix the object "
        "by themselves. 0: never off.",
        unit="photons/pixel", min=0.0, max=1e12, step=1e4, group="prior", advanced=True,
    )
    refine_probe: bool = setting(
        True,
        "Also refine the probe (data come with an approximate probe); the refined probe is "
        "saved in the product.",
        group="probe",
    )
    probe_start_epoch: int = setting(
        3,
        "Object-only epochs before the probe (and the background) is refined too.",
        unit="epochs", min=0, max=1000, step=1, group="probe", advanced=True,
    )
    hold_probe_tilt: bool = setting(
        False,
        "Keep the refined probe's mean phase gradient at the starting probe's and move any "
        "change into the object as the opposite phase ramp (the data cannot tell the two "
        "apart). Off: the ramp stays where the solver puts it (a tilt of the object's phase "
        "when the starting probe is right and the object has none: on by default would cost "
        "0.26 phase SSIM on realistic_a, whose refined probe tilts by itself).",
        group="probe", advanced=True,
    )
    background: bool = setting(
        True,
        "Refine a background per detector pixel, shared by all patterns (air scatter, "
        "detector offset); saved in the run summary.",
        group="probe",
    )
    position_correction: bool = setting(
        True,
        "Correct the scan positions (least-squares shift of each window, damped, mean "
        "offset held at zero); the refined positions are written in the product.",
        group="positions",
    )
    position_start_epoch: int = setting(
        5,
        "Epochs before the positions are corrected.",
        unit="epochs", min=0, max=1000, step=1, group="positions", advanced=True,
    )
    position_max_shift: float = setting(
        8.0,
        "Largest correction of a position from its nominal value.",
        unit="px", min=0.0, max=1000.0, step=1.0, group="positions", advanced=True,
    )


@dataclass
class LsqmlConfig:
    """Options of the LSQML solver (refinement.algorithm = lsqml)."""

    max_step: float = setting(
        2.0,
        "Upper bound of the closed-form step length of the object and probe updates.",
        min=0.1, max=10.0, step=0.1, advanced=True,
    )


@dataclass
class RpieConfig:
    """Options of the rPIE / ePIE solver (refinement.algorithm = rpie)."""

    alpha: float = setting(
        0.2,
        "Object update's regularisation (rPIE alpha): 1 is ePIE, small values trust the "
        "probe's weak parts more.",
        min=0.0, max=1.0, step=0.05,
    )
    probe_alpha: float = setting(
        0.5,
        "Probe update's regularisation (rPIE beta); 1 is ePIE.",
        min=0.0, max=1.0, step=0.05,
    )
    batch_size: int = setting(
        8,
        "Patterns per update (1: the classic sequential PIE).",
        unit="patterns", min=1, max=65536, step=1, advanced=True,
    )


@dataclass
class GradientConfig:
    """Options of the automatic-differentiation solver (refinement.algorithm = gradient)."""

    learning_rate: float = setting(
        0.05,
        "Adam's step of the object (amplitude ~1).",
        min=1e-6, max=1.0, step=0.005,
    )
    probe_learning_rate: float = setting(
        0.005,
        "Adam's step of the probe, relative to its peak amplitude.",
        min=1e-6, max=1.0, step=0.001,
    )


@dataclass
class SimulationConfig:
    """Synthetic datasets with known ground truth (the embedded default included)."""

    seed: int = setting(
        1234, "Seed of every random choice of the simulator.", min=0, max=2**31 - 1, step=1,
        group="general",
    )
    output_dir: str = setting(
        "simulated",
        "Folder written: dataset.npz, product.h5, diffraction.h5 and truth.h5.",
        path=True,
        group="output",
    )
    overwrite: bool = setting(
        False,
        "Write into an output folder that already holds files, replacing the simulation's "
        "own files (otherwise a non-empty folder is refused).",
        group="output",
        advanced=True,
    )
    object: str = setting(
        "dead_leaves",
        "Ground-truth object pattern (or an image file given in object_path).",
        choices=("lines", "dead_leaves", "siemens_star", "image"),
        group="object",
    )
    object_path: str = setting(
        "", "Image file used when object = 'image'.", path=True, group="object"
    )
    object_size: int = setting(
        0,
        "Side of the object in pixels (0: just large enough for the scan).",
        unit="px",
        min=0,
        max=16384,
        step=16,
        group="object",
        advanced=True,
    )
    amplitude_min: float = setting(
        0.5, "Lowest object amplitude.", min=0.0, max=1.0, step=0.05, group="object"
    )
    phase_range: float = setting(
        1.5, "Peak-to-peak object phase.", unit="rad", min=0.0, max=6.3, step=0.1,
        group="object",
    )
    probe: str = setting(
        "disk",
        "Illumination: defocused pupil (disk), Gaussian, Fresnel-zone-plate-like, or a file.",
        choices=("disk", "gaussian", "fzp", "file"),
        group="probe",
    )
    probe_path: str = setting(
        "", "Probe file used when probe = 'file'.", path=True, group="probe"
    )
    probe_diameter_px: float = setting(
        24.0,
        "Width of the illumination in the object plane: aperture diameter (disk), intensity "
        "FWHM (gaussian) or beam diameter (fzp).",
        unit="px",
        min=2.0,
        max=1024.0,
        step=1.0,
        group="probe",
    )
    defocus_px: float = setting(
        40.0,
        "Fresnel propagation distance from the aperture to the sample for the disk and "
        "gaussian probes, as lambda * z / dx^2 with dx the object pixel (0: in focus).",
        unit="px",
        min=0.0,
        max=1.0e5,
        step=1.0,
        group="probe",
        advanced=True,
    )
    scan: str = setting(
        "raster", "Scan pattern.", choices=("raster", "spiral"), group="scan"
    )
    n_positions: int = setting(
        784, "Number of scan positions.", min=1, max=10_000_000, step=1, group="scan"
    )
    step_px: float = setting(
        6.0, "Distance between neighbouring scan positions.", unit="px", min=0.1,
        max=1024.0, step=0.5, group="scan",
    )
    jitter_px: float = setting(
        0.5, "Standard deviation of random position errors added to a raster.", unit="px",
        min=0.0, max=100.0, step=0.1, group="scan",
    )
    photons_per_pattern: float = setting(
        1.0e6,
        "Mean total photon count per diffraction pattern (Poisson noise follows).",
        unit="photons",
        min=1.0,
        max=1.0e12,
        step=1000.0,
        group="noise",
    )
    photon_energy_ev: float = setting(
        8000.0, "Photon energy.", unit="eV", min=100.0, max=1.0e6, step=100.0,
        group="geometry", advanced=True,
    )
    detector_distance_m: float = setting(
        2.0, "Sample-detector distance.", unit="m", min=0.01, max=1000.0, step=0.1,
        group="geometry", advanced=True,
    )
    detector_pixel_size_m: float = setting(
        75e-6, "Detector pixel size.", unit="m", min=1e-7, max=0.01, step=1e-6,
        group="geometry", advanced=True,
    )


def _exec(default: Any, help: str, **meta: Any) -> Any:
    """An execution field: every one of them has its own CLI flag."""
    return setting(default, help, flag=True, **meta)


@dataclass
class ExecutionConfig:
    """Where and how runs execute: Lightning's runtime knobs, one place for all of them.

    ``accelerator = "auto"`` stays "auto" in saved sessions; it is resolved when a run starts
    and the resolved device is recorded in that run's provenance only.
    """

    accelerator: str = _exec(
        "auto", "Hardware to run on ('auto' picks a GPU when one is present). 'gpu' is an "
        "NVIDIA GPU through CUDA (Lightning's name; its alias 'cuda' is not offered twice).",
        choices=("auto", "cpu", "gpu", "mps"), group="hardware",
    )
    # typing.Union on purpose: FieldSpec checks get_origin(...) is Union.
    devices: Union[int, str] = _exec(  # noqa: UP007
        "auto",
        "Devices per node: 'auto', a count (2), -1 for all, or a list of indexes ('0,1').",
        group="hardware",
    )
    num_nodes: int = _exec(
        1, "Number of machines (nodes) for distributed training.", min=1, max=4096, step=1,
        group="hardware",
    )
    strategy: str = _exec(
        "auto", "Lightning distribution strategy.",
        choices=("auto", "ddp", "ddp_spawn", "ddp_notebook", "fsdp", "single_device"),
        group="hardware",
    )
    precision: str = _exec(
        "32-true",
        "Numeric precision of the network (the physics layer always runs in float32).",
        choices=("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"),
        group="numerics",
    )
    matmul_precision: str = _exec(
        "highest", "torch float32 matmul precision ('high'/'medium' allow TF32 on GPUs).",
        choices=("highest", "high", "medium"), group="numerics", advanced=True,
    )
    compile: bool = _exec(
        False, "Compile the network with torch.compile.", group="numerics", advanced=True
    )
    deterministic: bool = _exec(
        False, "Use deterministic algorithms so reruns with one seed match exactly.",
        group="reproducibility",
    )
    seed: int = _exec(
        42, "Seed of training (weights, data split, grouping, shuffling).", min=0,
        max=2**31 - 1, step=1, group="reproducibility",
    )
    num_workers: int = _exec(
        0, "Data-loader worker processes (0: load in the main process).", min=0, max=256,
        step=1, group="data loading",
    )
    pin_memory: bool = _exec(
        False, "Pin host memory for faster copies to a GPU.", group="data loading",
        advanced=True,
    )
    persistent_workers: bool = _exec(
        False, "Keep data-loader workers alive between epochs (needs num_workers > 0).",
        group="data loading", advanced=True,
    )
    inference_batch_size: int = _exec(
        256, "Patterns per batch at inference.", min=1, max=1_000_000, step=1,
        group="data loading",
    )
    gradient_clip_val: float = _exec(
        0.0, "Gradient clipping threshold (0: no clipping).", min=0.0, max=1.0e6, step=0.1,
        group="optimisation",
    )
    gradient_clip_algorithm: str = _exec(
        "norm", "Clip the gradient norm or each gradient value.", choices=("norm", "value"),
        group="optimisation", advanced=True,
    )
    accumulate_grad_batches: int = _exec(
        1, "Batches whose gradients are accumulated before each optimiser step.", min=1,
        max=4096, step=1, group="optimisation", advanced=True,
    )
    checkpointing: bool = _exec(
        True, "Save checkpoints (last.ckpt and the best ones).", group="checkpointing"
    )
    checkpoint_monitor: str = _exec(
        "val_loss", "Metric that decides the best checkpoint.",
        choices=("val_loss", "train_loss"), group="checkpointing", advanced=True,
    )
    checkpoint_mode: str = _exec(
        "min", "Whether the monitored metric is better when lower or higher.",
        choices=("min", "max"), group="checkpointing", advanced=True,
    )
    checkpoint_save_top_k: int = _exec(
        1, "How many best checkpoints to keep (-1: all).", min=-1, max=1000, step=1,
        group="checkpointing", advanced=True,
    )
    checkpoint_every_n_epochs: int = _exec(
        1, "Epochs between checkpoints.", min=1, max=10_000, step=1, group="checkpointing",
        advanced=True,
    )
    early_stopping_patience: int = _exec(
        0, "Stop when the monitored metric has not improved for this many epochs (0: never).",
        min=0, max=10_000, step=1, group="checkpointing",
    )
    logger: str = _exec(
        "csv", "Experiment logger.", choices=("none", "csv", "tensorboard"), group="logging"
    )
    log_every_n_steps: int = _exec(
        10, "Optimisation steps between logged training losses.", min=1, max=100_000, step=1,
        group="logging", advanced=True,
    )
    progress_bar: bool = _exec(True, "Show progress bars on the terminal.", group="logging")
    preview_interval_s: float = _exec(
        0.1, "Minimum time between live preview images sent to the GUI or a reporter.",
        unit="s", min=0.0, max=3600.0, step=0.1, group="logging", advanced=True,
    )


@dataclass
class SessionConfig:
    """A complete session: everything a run needs, saved as one TOML file."""

    data: DataConfig = field(default_factory=DataConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    beamtime: BeamtimeConfig = field(default_factory=BeamtimeConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    reconstruct: ReconstructConfig = field(default_factory=ReconstructConfig)
    refinement: RefinementConfig = field(default_factory=RefinementConfig)
    lsqml: LsqmlConfig = field(default_factory=LsqmlConfig)
    rpie: RpieConfig = field(default_factory=RpieConfig)
    gradient: GradientConfig = field(default_factory=GradientConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)


# ----------------------------------------------------------------------------------------------
# Introspection shared by every surface
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One schema field as every surface sees it."""

    section: str
    name: str
    type: Any
    default: Any
    meta: FieldMeta

    @property
    def key(self) -> str:
        """Dotted path, e.g. ``execution.devices``."""
        return f"{self.section}.{self.name}"

    @property
    def types(self) -> tuple[type, ...]:
        """The accepted Python types (more than one for unions such as ``int | str``)."""
        if get_origin(self.type) is Union:
            return tuple(get_args(self.type))
        return (self.type,)

    @property
    def type_name(self) -> str:
        return " | ".join(t.__name__ for t in self.types)

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def format_number(value: float | None) -> str:
    """A bound or default as users write it: ``1e-08``, ``0.5``, ``4194304``."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def section_classes() -> dict[str, type]:
    """Section name -> dataclass, in display order."""
    hints = get_type_hints(SessionConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(SessionConfig)}


def iter_fields() -> list[FieldSpec]:
    """Every field of the schema, section by section, in declaration order."""
    specs = []
    for section, cls in section_classes().items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            specs.append(FieldSpec(section, f.name, hints[f.name], f.default, f.metadata["ptycho"]))
    return specs


def field_specs() -> dict[str, FieldSpec]:
    """Dotted key -> :class:`FieldSpec`."""
    return {spec.key: spec for spec in iter_fields()}


SECTION_LABELS = {"lsqml": "LSQML", "rpie": "rPIE"}
"""How a section is titled where its name alone reads badly (GUI tabs); others: capitalised."""


def section_label(section: str) -> str:
    """The title of a section in the GUI: ``lsqml`` -> ``LSQML``, ``data`` -> ``Data``."""
    return SECTION_LABELS.get(section, section.capitalize())


def canonical_key(key: str) -> str:
    """The field a grouped spelling names: ``data.layout.patterns`` -> ``data.layout_patterns``.

    A group of a section (``layout`` in ``[data]``) may be written as a table of its own in a
    session file (``[data.layout]``) or as a three-part key on the command line and in the API.
    Its entry ``NAME`` is the field ``GROUP_NAME`` of the section when that exists, else the
    field ``NAME`` when it belongs to that group (``data.layout.fftshifted`` ->
    ``data.fftshifted``). Any other key is returned as it is (and reported unknown later).
    """
    parts = key.split(".")
    if len(parts) != 3:
        return key
    section, group, name = parts
    specs = field_specs()
    prefixed = f"{section}.{group}_{name}"
    if prefixed in specs and specs[prefixed].meta.group == group:
        return prefixed
    plain = f"{section}.{name}"
    if plain in specs and specs[plain].meta.group == group:
        return plain
    return key
