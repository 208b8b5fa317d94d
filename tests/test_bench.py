"""The bench (``baa.analysis``: bench, restoration, speed, timing): FLOP counting, the JSON schema on a
tiny run (toy data and untrained models passed in), the speed dict's keys (toy networks passed in),
the timers, atomic writing and the CLI registration. Seconds, no training."""

import json
import math
import time

import numpy as np
import pytest
import torch
import torch.nn as nn

import baa.analysis.timing as timing
from baa.analysis.bench import format_table, frames, run, targets
from baa.analysis.restoration import BenchModels, restoration_examples, verdict
from baa.analysis.speed import SPEED_KEYS, speed
from baa.analysis.timing import flop_count, inference_latency, matmul_peak_gflops, model_cost, time_call, time_interleaved
from baa.cli import cmd_bench
from baa.data.dataset import BoneAgeData
from baa.io.atomic import save_json
from baa.models import BoNetPlus, ResUNet
from baa.profiles import PROFILES
from baa.restore import RESTORERS
from baa.train.device import bf16_supported

SMOKE, CPU = PROFILES["smoke"], PROFILES["cpu"]


# ---------------------------------------------------------------- FLOPs and parameters

def test_flop_count_of_a_known_conv():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.rand(2, 3, 16, 16)
    # 2 FLOPs per multiply-add: out elements (2*8*16*16) x MACs each (3*3*3)
    assert flop_count(conv, x) == 2 * (2 * 8 * 16 * 16) * (3 * 3 * 3)
    total, ops = flop_count(conv, x, by_op=True)
    assert ops == {"convolution": total}


def test_flop_count_on_meta_matches_real_and_counts_backward():
    def build():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    real = flop_count(build(), torch.rand(1, 1, 8, 8))
    c = model_cost(build, size=8)
    assert c["flops"] == real == c["conv_flops"]
    assert c["params"] == sum(p.numel() for p in build().parameters())
    # backward: weight gradients of both convs and the input gradient of the second
    assert 2 * real < c["train_flops"] <= 3 * real


def test_paper_sizes():
    c = model_cost(lambda: BoNetPlus(width=1.0), 256)
    assert 1e6 < c["params"] < 10e6  # section 4.3: "just less than 10 M"
    assert c["flops"] == c["conv_flops"] > 1e10


# ---------------------------------------------------------------- JSON writing

def test_write_json_is_atomic(tmp_path):
    path = tmp_path / "sub" / "bench.json"
    save_json({"a": 1.5, "b": math.inf, "c": [np.float32(2.0), math.nan]}, path)
    assert json.loads(path.read_text()) == {"a": 1.5, "b": None, "c": [2.0, None]}  # strict JSON
    with pytest.raises(TypeError):
        save_json({"a": object()}, path)  # fails half-way through serialising ...
    assert json.loads(path.read_text())["a"] == 1.5  # ... and the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]  # no temporary left behind


# ---------------------------------------------------------------- a tiny restoration run

def _blobs(n: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, 1, size, size))
    for i in range(n):
        for _ in range(4):
            cy, cx, s = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.2)
            out[i, 0] += rng.uniform(0.3, 0.6) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return torch.tensor(np.clip(out, 0.02, 1), dtype=torch.float32)


@pytest.fixture
def toy():
    """Toy data and untrained small networks in place of the bench set and the trained models."""
    n = 3
    data = BoneAgeData(images=_blobs(n), age=torch.tensor([3.0, 8.0, 12.0]), male=torch.ones(n),
                       ids=[f"t{i}" for i in range(n)], source="toy blobs")
    torch.manual_seed(0)
    models = BenchModels(BoNetPlus(width=0.125).eval(),
                         {k: ResUNet(width=0.125, depth=2).eval() for k in ("dq", "noise", "label", "lowres")})
    return models, data


def test_restoration_schema_and_json(toy, tmp_path):
    out = tmp_path / "bench.json"
    models, data = toy
    res = run(SMOKE, out=out, parts=("restoration",), progress=False, models=models, data=data)
    on_disk = json.loads(out.read_text())
    assert on_disk["restoration"].keys() == res["restoration"].keys() == {"noise", "label", "lowres"}
    for kind, methods in on_disk["restoration"].items():
        expected = {"clean", "degraded", "resunet", "resunet_dq", *RESTORERS[kind]}
        assert set(methods) == expected
        for m, r in methods.items():
            assert {"psnr", "ssim", "mae_years"} <= set(r)
            assert r["mae_years"] >= 0
            if m != "clean":
                assert isinstance(r["psnr"], float) and 0 < r["ssim"] <= 1
            if kind == "label":
                assert "psnr_mask" in r
    # untrained ResUNets start as the identity: they return the degraded image
    noise = on_disk["restoration"]["noise"]
    assert noise["resunet"]["psnr"] == pytest.approx(noise["degraded"]["psnr"], abs=0.05)
    # the label box: restoring it raises the PSNR inside it the most
    lab = on_disk["restoration"]["label"]
    assert lab["biharmonic"]["psnr_mask"] > lab["degraded"]["psnr_mask"] + 5
    assert set(on_disk["verdict"]) == {"noise", "label", "lowres"}
    assert on_disk["meta"]["data"] == "phantom" and on_disk["meta"]["profile"] == "smoke"
    assert on_disk["meta"]["device_name"] and on_disk["meta"]["cpu_count"] >= 1
    assert "torch" in on_disk["meta"] and "date" in on_disk["meta"] and "load_average_start" in on_disk["meta"]
    assert "[label]" in format_table(res) and "biharmonic" in format_table(res)


def test_examples(toy):
    ex = restoration_examples(*toy, index=[0, 2])
    assert set(ex["label"]) == {"clean", "degraded", "resunet", "resunet_dq", "biharmonic"}
    assert ex["noise"]["anscombe_nlm"].shape == (2, 48, 48)


def test_verdict():
    r = {"lowres": {"bicubic": {"psnr": 30.0, "mae_years": 1.0}, "lanczos": {"psnr": 31.0, "mae_years": 1.2},
                    "resunet": {"psnr": 32.5, "mae_years": 0.9}, "resunet_dq": {"psnr": 31.5, "mae_years": 0.8}}}
    v = verdict(r)["lowres"]
    assert v["best_classical_psnr"] == "lanczos" and v["best_classical_mae"] == "bicubic"
    assert v["resunet_beats_classical"] and not v["resunet_dq_beats_classical"]  # 0.5 dB is not 1 dB
    assert v["resunet_psnr_gain_db"] == pytest.approx(1.5)
    assert "resunet_beats_classical_tta" not in v  # a metric the results lack is left out


def test_verdict_with_views_and_age_change():
    """An MAE below the clean images' own is a bias offset, not a restoration: the age change
    against the clean image tells the methods apart where the single-view MAE does not."""
    r = {"noise": {"anscombe_tv": {"psnr": 27.0, "mae_years": 1.6, "mae_years_tta": 2.0, "age_change_years": 1.0},
                   "anscombe_nlm": {"psnr": 29.0, "mae_years": 2.0, "mae_years_tta": 1.9, "age_change_years": 0.9},
                   "resunet": {"psnr": 32.0, "mae_years": 1.7, "mae_years_tta": 1.8, "age_change_years": 0.5},
                   "resunet_dq": {"psnr": 29.5, "mae_years": 1.9, "mae_years_tta": 1.85, "age_change_years": 0.6}}}
    v = verdict(r)["noise"]
    assert v["best_classical_mae"] == "anscombe_tv" and not v["resunet_beats_classical"]
    assert v["best_classical_mae_tta"] == "anscombe_nlm" and v["resunet_beats_classical_tta"]
    assert v["resunet_mae_change_years_tta"] == pytest.approx(-0.1)
    assert v["resunet_beats_classical_age_change"] and not v["resunet_dq_beats_classical_age_change"]


def test_verdict_interval_says_whether_the_bench_set_decides():
    """A small MAE difference against a noisy spread is undecided; a consistent one is decided."""
    g = np.random.default_rng(0)
    base = g.gamma(2.0, 0.8, 64)
    tv = base + g.normal(0, 0.4, 64).clip(-base, None)

    def res(shift):
        r = {"anscombe_tv": {"psnr": 27.0, "mae_years": float(tv.mean()), "abs_errors_years": tv.tolist()}}
        net = (tv + shift + g.normal(0, 0.3, 64)).clip(0, None)
        for m in ("resunet", "resunet_dq"):
            r[m] = {"psnr": 30.0, "mae_years": float(net.mean()), "abs_errors_years": net.tolist()}
        return {"noise": r}

    small = verdict(res(0.02))["noise"]
    lo, hi = small["resunet_mae_change_ci95_years"]
    assert lo < small["resunet_mae_change_years"] < hi and lo < 0 < hi and not small["resunet_mae_change_decided"]
    large = verdict(res(-0.5))["noise"]
    assert large["resunet_mae_change_ci95_years"][1] < 0 and large["resunet_mae_change_decided"]
    # the age change against the clean image gets its interval from its own per-image changes
    r = res(-0.5)["noise"]
    for m, ch in (("anscombe_tv", tv), ("resunet", tv - 0.5 + g.normal(0, 0.1, 64)), ("resunet_dq", tv + g.normal(0, 0.4, 64))):
        ch = ch.clip(0, None)
        r[m].update(age_change_years=float(ch.mean()), age_changes_years=ch.tolist())
    ac = verdict({"noise": r})["noise"]
    assert ac["resunet_mae_change_decided_age_change"] and ac["resunet_mae_change_ci95_years_age_change"][1] < 0
    assert not ac["resunet_dq_mae_change_decided_age_change"]
    assert "resunet_mae_change_ci95_years" not in verdict({"noise": {
        m: {"psnr": 1.0, "mae_years": 1.0} for m in ("anscombe_tv", "resunet", "resunet_dq")}})["noise"]


# ---------------------------------------------------------------- speed, on toy networks

class _Reg(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x).mean((1, 2, 3))


class _Cls(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3)))


TOYS = {"bonet": _Reg, "resunet": lambda: nn.Conv2d(1, 1, 3, padding=1), "classifier": _Cls}
NETWORKS = {"paper": TOYS, "cpu_profile": TOYS}


@pytest.fixture
def fast_yardsticks(monkeypatch):
    """The phantom's rate and the matmul peak (seconds each) as constants."""
    monkeypatch.setattr(timing, "phantom_images_per_s", lambda *a, **k: 1.0)
    monkeypatch.setattr(timing, "matmul_peak_gflops", lambda *a, **k: 10.0)


def test_speed_keys(fast_yardsticks):
    s, extra = speed(SMOKE, progress=False, device="cpu", networks=NETWORKS, size=32)
    assert list(s) == list(SPEED_KEYS)
    for k in ("bonet_paper_params", "bonet_paper_gflops", "bonet_infer_ms_256", "bonet_infer_ms_256_channels_last",
              "train_images_per_s_cpu_profile", "matmul_peak_gflops", "conv_share_of_peak", "phantom_images_per_s_256"):
        assert isinstance(s[k], (int, float)) and s[k] > 0, k
    assert s["bonet_paper_params"] == sum(p.numel() for p in _Reg().parameters())
    assert s["bonet_infer_speedup_256"] == pytest.approx(s["bonet_infer_ms_256"] / s["bonet_infer_ms_256_best"])
    assert s["conv_share_of_peak"] == pytest.approx(s["conv_gflops_per_s"] / 10.0)
    # the smoke profile leaves out what is slow and says so
    assert s["bonet_infer_ms_256_compiled"] is None and s["train_images_per_s_256"] is None
    assert extra["skipped"]["light"] and set(extra["cpu_seconds"]) >= {"cost", "peak", "phantom", "compile"}


def test_time_call_and_latency():
    calls = []
    t = time_call(lambda: (calls.append(1), time.sleep(0.02)), iters=3, warmup=2)
    assert len(calls) == 5 and 0.02 <= t < 0.5  # the median of one call, not the sum or the warm-up
    order = []
    t = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, iters=2, warmup=1)
    assert set(t) == {"a", "b"} and order == ["a", "b"] * 3  # round-robin: variants take turns
    t = inference_latency(_Reg(), 16, iters=1, warmup=0)
    assert set(t) == {"grad", "no_grad", "inference_mode", "channels_last"} | ({"bf16"} if bf16_supported() else set())
    t = inference_latency(_Reg(), 16, iters=1, warmup=0, variants=("channels_last", "bf16"))
    assert set(t) == {"channels_last", "bf16"} and t["bf16"] > 0  # bf16 runs (emulated where unsupported)


def test_matmul_peak_is_two_n_cubed_over_the_best_time(monkeypatch):
    times = iter([0.004, 0.002, 0.003])  # three calls: the best is kept
    monkeypatch.setattr(timing, "time_call", lambda *a, **k: next(times))
    assert matmul_peak_gflops(sizes=(64,), reps=3) == pytest.approx(2 * 64**3 / 0.002 / 1e9)


def test_targets_say_what_they_measure():
    s = {"bonet_infer_ms_256_best": 80.0, "bonet_infer_ms_256_best_fp32": 120.0, "conv_share_of_peak": 0.4,
         "phantom_images_per_s_256": 250.0, "phantom_images_per_s_256_png": None}
    t = targets({"speed": s})
    assert t["bonet_infer_ms_256_best"] == {"value": 80.0, "target": 100.0, "rule": "<=", "met": True, "precision": "bf16"}
    assert not t["conv_share_of_peak"]["met"] and t["phantom_images_per_s_256"]["met"]
    assert not t["phantom_images_per_s_256_png"]["met"]  # not measured: not met
    assert targets({}) == {}


# ---------------------------------------------------------------- the CLI

def test_cli_registers_bench():
    from baa.cli import build_parser

    a = build_parser().parse_args(["bench", "--profile", "smoke", "--out", "x.json", "--quick"])
    assert a.fn is cmd_bench and a.quick and a.out == "x.json" and a.profile == "smoke"


@pytest.mark.parametrize("bf16", [False, True])
def test_speed_full_path_on_toys(monkeypatch, fast_yardsticks, bf16):
    """The non-quick path (every variant, paper-size training, compile results merged) on toys;
    with bf16 hardware the 256 compile runs in bf16 and bf16 variants count towards the best."""
    fake = {"eager_s": 0.002, "compiled_s": 0.001, "compile_s": 3.0}
    monkeypatch.setattr(timing, "compile_inference", lambda configs, *a, **k: ({c["name"]: fake for c in configs}, None))
    s, extra = speed(CPU, progress=False, device="cpu", networks=NETWORKS, size=32, bf16=bf16)
    missing = sorted(k for k, v in s.items() if v is None)
    if bf16:
        assert missing == ["bonet_infer_ms_256_compiled", "bonet_infer_ms_cpu_profile_compiled_bf16"], missing
        assert s["bonet_infer_ms_256_compiled_bf16"] == 1.0
    else:
        assert missing == sorted(f"bonet_infer_ms_{t}{v}" for t in ("256", "cpu_profile") for v in ("_bf16", "_compiled_bf16"))
        assert s["bonet_infer_ms_256_compiled"] == 1.0
    assert extra["bonet_compile_speedup_256"] == 2.0
    fp32 = [s[f"bonet_infer_ms_256{v}"] for v in ("", "_inference_mode", "_channels_last", "_compiled")]
    assert s["bonet_infer_ms_256_best_fp32"] == min(v for v in fp32 if v is not None)
    every = fp32 + [s[f"bonet_infer_ms_256{v}"] for v in ("_bf16", "_compiled_bf16")]
    assert s["bonet_infer_ms_256_best"] == min(v for v in every if v is not None)
    assert not extra["skipped"]
    tables = frames({"speed": s, "speed_extra": extra})
    assert tables["inference"].loc["channels_last"].notna().all() and len(tables["training"]) == 4
    # bf16 training is timed where the hardware has bf16, and shown beside the fp32 rates
    assert ("bf16 images/s" in tables["training"]) == bf16
    if bf16:
        assert tables["training"]["bf16 images/s"].notna().all() and extra["train_images_per_s_256_bf16"] > 0
