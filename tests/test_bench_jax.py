"""fathom.bench.jax_twins: the JAX versions of the bench workloads compute what Fathom's
models compute from the same weights, train as Fathom's loop does, and the command puts
them in its table. Skipped without JAX."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import fathom  # noqa: E402
from fathom.bench import twins, workloads  # noqa: E402
from fathom.bench import jax_twins as J  # noqa: E402
from fathom.vision import models  # noqa: E402

rng = np.random.default_rng(0)
IMAGES = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
LABELS = rng.integers(0, 10, 64)
SEQ = rng.standard_normal((4, 16, 128)).astype(np.float32)
CIFAR = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)


def bench(*args):
    env = dict(os.environ, FATHOM_BENCH_SETTLE="0")
    return subprocess.run([sys.executable, "-m", "fathom", "bench", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def build(name):
    fathom.manual_seed(0)
    return workloads.transformer_model(fathom) if name == "transformer" else models.get(name)


def fathom_forward(model, x):
    with fathom.no_grad():
        return model(fathom.from_numpy(x)).numpy()


def jax_forward(name, params, x, train=False):
    logits, stats = jax.jit(J.MODELS[name], static_argnums=3)(params, x, None, train)
    return np.asarray(logits), stats


def test_models_without_buffers_report_no_statistics():
    assert jax_forward("mlp", J.params_from(build("mlp")), IMAGES[:2], train=True)[1] == {}


@pytest.mark.parametrize("name", ["mlp", "cnn", "lenet5", "lstm", "transformer", "resnet18"])
def test_eval_forward_matches_fathom(name):
    model = build(name).eval()
    x = {"transformer": SEQ, "resnet18": CIFAR}.get(name, IMAGES[:3])
    got = np.asarray(J.inference_fn(name, model, x)())  # the jitted forward the bench times
    np.testing.assert_allclose(got, fathom_forward(model, x), rtol=1e-4, atol=1e-5)


def test_resnet18_train_mode_uses_batch_statistics_and_updates_running_ones():
    model = build("resnet18").train()
    params = J.params_from(model)
    got, stats = jax_forward("resnet18", params, CIFAR, train=True)
    want = fathom_forward(model, CIFAR)  # also moves the Fathom model's running statistics
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    after = model.state_dict()
    assert len(stats) == 3 * 20  # 20 batch norms: running mean, running var, batch count
    for key, value in stats.items():
        np.testing.assert_allclose(np.asarray(value), after[key].numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=key)
    assert not np.allclose(after["bn1.running_var"].numpy(), params["bn1.running_var"])


def test_unknown_model_is_refused_by_name():
    with pytest.raises(ValueError, match="no JAX version of model 'vgg'.*lenet5"):
        J.inference_fn("vgg", build("mlp"), IMAGES[:1])


@pytest.mark.parametrize("name", ["mlp", "lenet5", "lstm"])
def test_epoch_matches_fathoms_adam_loop(name):
    """Same weights, batches and Adam: the JAX epoch's last loss is Fathom's (no dropout
    in these models, so the arithmetic is the same step for step), and it falls."""
    model, order = build(name), np.random.default_rng(1).permutation(64)
    jax_run = J.epoch_fn(name, model, IMAGES, LABELS, 16, order)  # reads the weights first
    fathom_run = twins.epoch_fn(fathom, model, IMAGES, LABELS, 16, order)
    losses = [jax_run() for _ in range(2)]  # each epoch ends on the same batch
    np.testing.assert_allclose(losses, [fathom_run() for _ in range(2)], rtol=2e-4)
    assert losses[1] < losses[0]


@pytest.mark.parametrize("name, x", [("transformer", SEQ), ("resnet18", CIFAR[:2])])
def test_steps_match_fathoms_adam_steps(name, x):
    """steps_fn's loss at its second step is the one Fathom's Adam loop reaches on the batch
    (batch norm in training mode for ResNet-18), and two more steps lower it."""
    model, y = build(name), LABELS[:len(x)]
    jax_run = J.steps_fn(name, model, x, y, 2)
    fathom_step = twins.epoch_fn(fathom, model, x, y, len(x), np.arange(len(x)))
    want = [fathom_step() for _ in range(2)][-1]
    first = jax_run()
    np.testing.assert_allclose(first, want, rtol=1e-3)
    assert jax_run() < first


def test_cnn_epochs_lower_the_loss():
    # dropout draws from JAX's generator, so only the trend is compared with Fathom's
    run = J.epoch_fn("cnn", build("cnn"), IMAGES, LABELS, 16, np.arange(64))
    losses = [run() for _ in range(4)]  # the last batch is the same one every epoch
    assert losses[-1] < losses[0] and np.isfinite(losses).all()


_BUSY_THREADS = """
import os
import jax
import jax.numpy as jnp
from fathom.bench import jax_twins
jax_twins.set_threads({n})


def cpu_ticks():
    ticks = {{}}
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{{task}}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks[task] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


a = jnp.ones((1024, 1024))
matmul = jax.jit(lambda a: a @ a)
matmul(a).block_until_ready()
before = cpu_ticks()
for _ in range(20):
    matmul(a).block_until_ready()
after = cpu_ticks()
print(sum(after[t] - before.get(t, 0) >= 5 for t in after))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_set_threads_one_runs_xla_on_one_thread():
    """--threads 1 holds for JAX too: set before JAX's first array, one thread computes."""
    code = _BUSY_THREADS.format(n=1)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 1


def test_command_times_workloads_against_jax(tmp_path):
    """One run of the command (JAX's start-up is paid once): x + y, the LeNet-5 epoch and the
    Transformer steps each get a JAX value and its ratio."""
    out = tmp_path / "bench.json"
    r = bench("--workloads", "overhead,lenet5,transformer", "--repeat", "1", "--limit", "512",
              "--against", "torch,jax", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "jax: MLP, CNN, LeNet-5, LSTM epochs" in r.stdout and "Fathom/JAX" in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [row["group"] for row in rows] == ["overhead", "overhead", "epoch", "step"]
    assert "jax" not in rows[1]["values"]  # the tiny backward has no JAX version
    add, lenet, encoder = rows[0], rows[2], rows[3]
    assert "LeNet-5" in lenet["name"] and "Transformer" in encoder["name"]
    for row in (add, lenet, encoder):
        assert row["values"]["jax"] > 0
        assert row["ratios"]["jax"] == pytest.approx(row["values"]["fathom"] /
                                                     row["values"]["jax"])
