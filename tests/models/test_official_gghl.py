"""The paper model is the official GGHL network: same parameters, same state-dict entries, same function.

Reference: tests/data/official_gghl (outputs of the official ``modelR/GGHL.py`` with weights rebuilt from its
key list; README there). Everything is read from the fixture (seed, input size, batch), nothing hard-coded, so
the same checks hold for a fixture regenerated with other settings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gghl.models.convert import OfficialCheckpointError, convert_official_gghl, convert_to_official_gghl
from gghl.models.gghl_detector import build_gghl_detector
from gghl.structures.gghl_decode import decode_gghl_level

from .official_gghl_weights import fixture_meta, fixture_outputs, official_input, official_weights

LEVELS = (("p_s", 8), ("p_m", 16), ("p_l", 32))
TOL = 1e-4  # of each level's largest magnitude (issue 14)


def _meta_net(num_classes: int) -> torch.nn.Module:
    with torch.device("meta"):
        return build_gghl_detector(num_classes)


def _rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours.double() - ref.double()).abs().max() / ref.double().abs().max())


def _decoded(raw: list[torch.Tensor]) -> list[torch.Tensor]:
    """Our decoder per level in the official p_d layout: rows ``(b, gy, gx)`` flattened, ``14 + C`` channels."""
    return [decode_gghl_level(r, s).reshape(-1, r.shape[1] + 4) for r, (_, s) in zip(raw, LEVELS)]


def _check_against_fixture(
    raw: list[torch.Tensor], out: dict[str, np.ndarray], tol: float
) -> dict[str, float]:
    errs = {}
    for r, (name, _) in zip(raw, LEVELS):
        ref = torch.from_numpy(out[name])
        ours = r.permute(0, 2, 3, 1)
        assert ours.shape == ref.shape, name
        errs[name] = _rel_err(ours, ref)
    ref_d = torch.from_numpy(out["p_d"])
    start = 0
    for dec, (name, _) in zip(_decoded(raw), LEVELS):
        part = ref_d[start : start + dec.shape[0]]
        start += dec.shape[0]
        errs[f"p_d[{name}]"] = _rel_err(dec, part)
    assert start == ref_d.shape[0]
    print(" ".join(f"{k}={v:.2e}" for k, v in errs.items()))
    assert max(errs.values()) <= tol, errs
    return errs


@pytest.fixture(scope="module")
def official() -> dict:
    meta = fixture_meta()
    return {
        "meta": meta,
        "state": official_weights(meta["keys"], meta["seed_offset"]),
        "out": fixture_outputs(),
    }


def test_paper_model_has_the_official_parameters_and_entries() -> None:
    meta = fixture_meta()
    net = _meta_net(meta["num_classes"])
    assert sum(p.numel() for p in net.parameters()) == meta["num_params"] == 68_782_123
    assert len(net.state_dict()) == len(meta["keys"]) == 464
    # every official entry maps to one of ours with the same shape and dtype, and back, in the official order
    state = {k: torch.empty(shape, dtype=getattr(torch, dt), device="meta") for k, shape, dt in meta["keys"]}
    ours = convert_official_gghl(state)
    expected = net.state_dict()
    assert set(ours) == set(expected)
    assert all(ours[k].shape == expected[k].shape and ours[k].dtype == expected[k].dtype for k in ours)
    back = convert_to_official_gghl(ours)
    assert list(back) == [k for k, _, _ in meta["keys"]]
    assert all(back[k] is state[k] for k in back)


def test_forward_equals_the_official_network(official: dict) -> None:
    meta, out = official["meta"], official["out"]
    net = _meta_net(meta["num_classes"])
    net.load_state_dict(convert_official_gghl(official["state"]), strict=True, assign=True)
    net.eval()
    x = official_input(meta["batch"], meta["size"], meta["input_seed"])
    assert torch.equal(x, torch.from_numpy(out["x"]))  # the fixture's input rule
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the one large forward of the fast suite
    try:
        with torch.no_grad():
            raw = net(x)
    finally:
        torch.set_num_threads(threads)
    _check_against_fixture(raw, out, TOL)


def test_decoder_equals_the_official_decode_on_official_raw_outputs() -> None:
    out = fixture_outputs()
    raw = [torch.from_numpy(out[name]).permute(0, 3, 1, 2) for name, _ in LEVELS]
    dec = torch.cat(_decoded(raw))
    ref = torch.from_numpy(out["p_d"])
    # same float32 formulas: equal up to rounding (w = xmax - xmin vs l2 + l4)
    per_col = (dec - ref).abs().amax(0) / ref.abs().amax(0).clamp(min=1e-6)
    assert float(per_col.max()) < 1e-5, per_col


@pytest.mark.slow
def test_forward_equals_the_official_network_float64_real_build(official: dict) -> None:
    """float64 through the user path (``build_gghl_detector`` on CPU, strict load): the remaining difference
    is the reference's own float32 rounding."""
    meta, out = official["meta"], official["out"]
    net = build_gghl_detector(meta["num_classes"]).eval()
    net.load_state_dict(convert_official_gghl(official["state"]), strict=True)
    net.double()
    with torch.no_grad():
        raw = net(torch.from_numpy(out["x"]).double())
    errs = _check_against_fixture(raw, out, TOL)
    assert max(errs.values()) < 1e-5, errs


def test_training_checkpoint_layout_and_module_prefix(official: dict) -> None:
    state = official["state"]
    plain = convert_official_gghl(state)
    wrapped = {
        "epoch": 7,
        "best_mAP": 0.5,
        "optimizer": {"state": {}, "param_groups": []},
        "model": {f"module.{k}": v for k, v in state.items()},
    }
    converted = convert_official_gghl(wrapped)
    assert list(converted) == list(plain) and all(converted[k] is plain[k] for k in plain)


def test_bad_official_dicts_list_the_keys(official: dict) -> None:
    state = dict(official["state"])
    extra = {**state, "_GGHL__fpn._Neck__extra.weight": torch.zeros(1)}
    with pytest.raises(OfficialCheckpointError, match=r"unknown keys \(1\): _GGHL__fpn._Neck__extra.weight"):
        convert_official_gghl(extra, source="ckpt.pt")
    gone = {k: v for k, v in state.items() if "conv_set_1.4" not in k}
    with pytest.raises(
        OfficialCheckpointError, match=r"ckpt.pt: .*missing keys \(6\): _GGHL__fpn._Neck__conv_set_1.4"
    ):
        convert_official_gghl(gone, source="ckpt.pt")
    bad = {**state, "_GGHL__fpn._Neck__conv01up._Convolutional__conv.weight": torch.zeros(256, 512, 3, 3)}
    with pytest.raises(
        OfficialCheckpointError,
        match=r"wrong shapes \(1\): .*conv01up.*\(256, 512, 3, 3\) \(expected \(256, 512, 1, 1\)\)",
    ):
        convert_official_gghl(bad)
    with pytest.raises(OfficialCheckpointError, match="missing the official class conv"):
        convert_official_gghl({"a.weight": torch.zeros(1)})
    with pytest.raises(OfficialCheckpointError, match="not tensors: epoch"):
        convert_official_gghl({"epoch": 3, "a": torch.zeros(1)})


def test_other_class_counts_convert(official: dict) -> None:
    """C comes from the weights (HRSC2016: 1 class, SSDD+: 1): the head's class convs are the only change."""
    state = {k: v for k, v in official["state"].items()}
    for k in [k for k in state if "_Neck__cls" in k and k.endswith((".1.weight", ".1.bias"))]:
        state[k] = state[k][:1]
    ours = convert_official_gghl(state)
    assert ours["head.cls.0.1.weight"].shape[0] == 1
    net = _meta_net(1)
    net.load_state_dict(ours, strict=True, assign=True)


def test_inverse_accepts_task_and_ema_state_dicts(official: dict) -> None:
    ours = convert_official_gghl(official["state"])
    task_sd = {f"net.{k}": v for k, v in ours.items()}
    assert list(convert_to_official_gghl(task_sd)) == [k for k, _, _ in official["meta"]["keys"]]
    ema_sd = {
        **task_sd,
        **{f"ema.module.{k}": v + 1 if v.is_floating_point() else v for k, v in ours.items()},
    }
    back = convert_to_official_gghl({"state_dict": ema_sd})
    k = "_GGHL__backnone._Darknet53__conv._Convolutional__conv.weight"
    assert torch.equal(back[k], ours["backbone.body.stem_conv1.conv.weight"] + 1)  # the EMA weights
    light = {k: v for k, v in task_sd.items() if not k.startswith("net.neck.sets.0.1.")}
    with pytest.raises(OfficialCheckpointError, match=r"missing keys \(2\): neck.sets.0.1.out.weight"):
        convert_to_official_gghl(light)
