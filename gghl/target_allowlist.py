"""The names a config's ``_target_`` may instantiate: one explicit list, no module prefixes.

Used by :func:`gghl.config_targets.check_targets` (composed command-line configs) and by
:func:`gghl.config_targets.check_untrusted_config` (the config stored in a checkpoint). A name is compared as
a string, exactly as the config spells it; nothing is imported to decide. A prefix rule ("anything under
``torch.``") admitted ``torch.utils.collect_env.run`` (starts a process) and would admit whatever a future
torch adds; a list cannot grow by itself.

What is here: every ``_target_`` of the shipped configs (``configs/``, all experiments and group options;
``tests/reliability/test_config_targets.py`` composes them and fails when one is missing), the project's other
config-facing classes, and named torch / timm / Lightning classes a config may reasonably swap in
(optimizers, schedulers, layers, callbacks, loggers). Left out on purpose: anything that loads files or
code (``torch.load``, ``torch.hub.*``, ``timm.create_model`` with its ``checkpoint_path``), runs processes,
takes a callable argument that would need another target (``LambdaLR``), or talks to a server on
construction (``MLFlowLogger``).

Adding a name: append it below (fully qualified, as configs spell it) with a reason in the commit; user
configs may instead opt out of the list (``--config-dir`` / ``+allow_external_targets=true``), checkpoints
never.
"""

from __future__ import annotations

#: The project's own classes and functions that configs instantiate.
GGHL_TARGETS: frozenset[str] = frozenset(
    {
        # tasks (the model kinds, gghl.tasks.model_kinds)
        "gghl.tasks.gghl_detection.GGHLDetectionTask",
        "gghl.tasks.query_detection.QueryDetectionTask",
        "gghl.tasks.classification.ClassificationTask",
        # model parts
        "gghl.models.gghl_detector.build_gghl_detector",
        "gghl.models.gghl_postprocess.GGHLPostProcess",
        "gghl.models.query.tiny_backbone.TinyConvBackbone",
        "gghl.models.query.detector.QueryDetector",
        "gghl.models.classifier.build_classifier",
        # query-detector criterion (DETR-style: matcher and label assigner injected)
        "gghl.losses.set_criterion.SetCriterion",
        "gghl.assigners.hungarian.HungarianMatcher",
        "gghl.assigners.cross_stage.CrossStageLabelAssigner",
        # data modules
        "gghl.data.detection_datamodule.SyntheticDataModule",
        "gghl.data.detection_datamodule.DotaDataModule",
        "gghl.data.detection_datamodule.CocoDataModule",
        "gghl.data.synthetic_coco.SyntheticCocoDataModule",
        "gghl.data.classification.DigitsDataModule",
        "gghl.data.classification.ImageFolderDataModule",
        "gghl.data.classification.CSVDataModule",
        # callbacks
        "gghl.callbacks.ExactResume",
        "gghl.callbacks.ValImageLogger",
    }
)

#: Named classes of torch / timm / Lightning.
THIRD_PARTY_TARGETS: frozenset[str] = frozenset(
    {
        # optimizers
        *(
            f"torch.optim.{n}"
            for n in ("SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam")
        ),
        *(
            f"timm.optim.{n}"
            for n in ("Lamb", "AdamP", "SGDP", "Lion", "AdaBelief", "Adan", "NAdamW", "Lars")
        ),
        # schedulers (no LambdaLR / MultiplicativeLR: they take a callable)
        *(
            f"torch.optim.lr_scheduler.{n}"
            for n in (
                "CosineAnnealingLR",
                "CosineAnnealingWarmRestarts",
                "StepLR",
                "MultiStepLR",
                "ExponentialLR",
                "LinearLR",
                "ConstantLR",
                "PolynomialLR",
                "OneCycleLR",
                "CyclicLR",
                "ReduceLROnPlateau",
                "SequentialLR",
                "ChainedScheduler",
            )
        ),
        # layers
        *(
            f"torch.nn.{n}"
            for n in (
                "Identity",
                "ReLU",
                "ReLU6",
                "SiLU",
                "GELU",
                "LeakyReLU",
                "Mish",
                "Hardswish",
                "Sigmoid",
                "Tanh",
                "BatchNorm2d",
                "SyncBatchNorm",
                "GroupNorm",
                "LayerNorm",
                "Dropout",
                "Dropout2d",
            )
        ),
        # Lightning trainer, callbacks, loggers, strategies
        "lightning.pytorch.Trainer",
        "lightning.pytorch.trainer.Trainer",
        *(
            f"lightning.pytorch.callbacks.{n}"
            for n in (
                "ModelCheckpoint",
                "LearningRateMonitor",
                "TQDMProgressBar",
                "RichProgressBar",
                "EarlyStopping",
                "ModelSummary",
                "RichModelSummary",
                "StochasticWeightAveraging",
                "Timer",
            )
        ),
        *(f"lightning.pytorch.loggers.{n}" for n in ("CSVLogger", "TensorBoardLogger", "WandbLogger")),
        "lightning.pytorch.strategies.DDPStrategy",
        "lightning.pytorch.strategies.SingleDeviceStrategy",
    }
)

#: Every name a ``_target_`` may hold (exact strings).
ALLOWED_TARGETS: frozenset[str] = GGHL_TARGETS | THIRD_PARTY_TARGETS
