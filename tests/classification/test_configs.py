"""The Hydra configs compose and instantiate (no training)."""

import hydra
import pytest
from hydra import compose, initialize_config_dir

from gghl.configs import CONFIG_DIR


@pytest.mark.parametrize(
    "exp", ["classify_digits", "classify_digits_soft", "classify_digits_noisy", "classify_digits_distill"]
)
def test_experiment_instantiates(exp):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train.yaml", overrides=[f"experiment={exp}", "data.subset=100"], return_hydra_config=False
        )
    dm = hydra.utils.instantiate(cfg.data)
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.data.num_classes = dm.num_classes
        cfg.data.class_names = dm.class_names
    cfg.model.scheduler.T_max = 3  # trainer.max_epochs is filled by the train config at run time
    if exp.endswith("distill"):
        assert cfg.model.assign == "distill" and cfg.model.distill.temperature == 4.0
        return  # needs a teacher checkpoint (covered in test_task.py)
    model = hydra.utils.instantiate(cfg.model)
    assert model.num_classes == 10 and cfg.monitor == "val/acc"
    assert model.assign == ("soft" if exp.endswith("soft") else "hard")


@pytest.mark.parametrize("name", ["imagefolder", "csv"])
def test_file_data_configs_exist(name):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train.yaml", overrides=["experiment=classify_digits", f"data={name}"])
    assert cfg.data._target_.startswith("gghl.data.classification.")
