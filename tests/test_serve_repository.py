"""The model repository (fathom.serve.repository): versions and defaults, hot reload of a
new version while requests run, retiring removed versions, and refusing pickle files
without ever unpickling them."""
import json
import os
import pickle
import shutil
import threading
import time
import zipfile

import httpx
import numpy as np
import pytest
from serve_fixtures import eager, infer_body, save_tiny, tiny_repository

from fathom.serve.package import PackageError
from fathom.serve.repository import Repository, RepositoryError, find_pickles
from fathom.serve.server import Server


def test_single_package_and_repository_with_versions(tmp_path):
    save_tiny(tmp_path / "pkg", name="solo", version=4)
    single = Repository(tmp_path / "pkg")
    assert single.single and single.names() == ["solo"] and single.versions("solo") == [4]
    assert single.poll() == []

    models = tiny_repository(tmp_path / "repo", {"a": [1, 2, 10], "b": [3]})
    (tmp_path / "repo" / "a" / "notes").mkdir()  # not a version: ignored
    (tmp_path / "repo" / ".cache").mkdir()
    repo = Repository(tmp_path / "repo")
    assert repo.names() == ["a", "b"]
    assert repo.versions("a") == [1, 2, 10]
    assert repo.get("a").version == 10  # the highest, not the last in text order
    assert repo.get("a", 2).version == 2
    assert repo.get("a", 5) is None and repo.get("zzz") is None
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(repo.get("a", 2).package.predict([x])[0],
                                  eager(models["a", 2], x))


def test_folder_names_decide_the_served_name_and_version(tmp_path):
    save_tiny(tmp_path / "m" / "7", name="other", version=1)
    mv = Repository(tmp_path).get("m")
    assert (mv.name, mv.version, mv.package.name, mv.package.version) == ("m", 7, "m", 7)


def test_start_errors(tmp_path):
    with pytest.raises(RepositoryError, match="no such folder"):
        Repository(tmp_path / "missing")
    (tmp_path / "empty" / "m").mkdir(parents=True)
    with pytest.raises(RepositoryError, match="no model packages found"):
        Repository(tmp_path / "empty")
    save_tiny(tmp_path / "broken" / "m" / "1")
    (tmp_path / "broken" / "m" / "1" / "config.json").write_text("{}")
    with pytest.raises(PackageError, match="field 'format'"):
        Repository(tmp_path / "broken")
    save_tiny(tmp_path / "repo" / "m" / "1")
    with pytest.raises(RepositoryError, match="serve the repository folder above it"):
        Repository(tmp_path / "repo" / "m")


def test_poll_loads_complete_versions_and_retires_removed_ones(tmp_path, caplog):
    models = tiny_repository(tmp_path, {"m": [1]})
    repo = Repository(tmp_path)
    made, closed = [], []
    repo.attach(lambda mv: made.append(mv.version) or f"runner{mv.version}", closed.append)
    assert made == [1] and repo.get("m").runner == "runner1"

    # an incomplete folder (no weights yet) is not loaded, and not an error
    (tmp_path / "m" / "2").mkdir()
    (tmp_path / "m" / "2" / "config.json").write_text("{}")
    assert repo.poll() == [] and repo.get("m").version == 1
    # a broken package is logged once and skipped; the old version keeps serving
    shutil.copy(tmp_path / "m" / "1" / "model.safetensors", tmp_path / "m" / "2")
    assert repo.poll() == [] and repo.poll() == []
    assert sum("cannot load" in r.getMessage() for r in caplog.records) == 1
    # completed: picked up, the default swaps, v1 is still served by number
    shutil.rmtree(tmp_path / "m" / "2")
    models["m", 2] = save_tiny(tmp_path / "m" / "2", name="m", version=2, seed=2)
    assert repo.poll() == ["+m/2"]
    assert repo.get("m").version == 2 and repo.get("m", 1).runner == "runner1"
    assert made == [1, 2]
    # a new model appears too; a removed version is retired and its runner closed
    save_tiny(tmp_path / "n" / "1", name="n")
    shutil.rmtree(tmp_path / "m" / "1")
    assert sorted(repo.poll()) == ["+n/1", "-m/1"]
    assert repo.versions("m") == [2] and closed == ["runner1"]
    assert repo.poll() == []


def test_hot_reload_while_requests_run(tmp_path):
    models = tiny_repository(tmp_path, {"m": [1]})
    repo_kwargs = {"max_batch_size": 8}
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    body = infer_body(shape=(2, 4), data=x.ravel().tolist())
    stop, results = threading.Event(), []

    def client(url):
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/v2/models/m/infer", json=body)
                results.append((r.status_code, r.json()))

    with Server(Repository(tmp_path, poll_interval_s=0.05), **repo_kwargs) as server:
        threads = [threading.Thread(target=client, args=(server.url,)) for _ in range(3)]
        for t in threads:
            t.start()
        while len(results) < 20:
            time.sleep(0.01)
        models["m", 2] = save_tiny(tmp_path / "m" / "2", name="m", version=2, seed=2)
        deadline = time.monotonic() + 30
        while (not results or results[-1][1].get("model_version") != "2") and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        n_before = len(results)
        while len(results) < n_before + 10:
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join()
        old = httpx.post(server.url + "/v2/models/m/versions/1/infer", json=body).json()
    want = {v: eager(models["m", v], x).ravel() for v in (1, 2)}
    assert all(code == 200 for code, _ in results)
    seen = []
    for _, doc in results:
        v = int(doc["model_version"])
        np.testing.assert_allclose(doc["outputs"][0]["data"], want[v], rtol=1e-6)
        seen.append(v)
    assert seen[0] == 1 and seen[-1] == 2 and 2 in seen
    np.testing.assert_allclose(old["outputs"][0]["data"], want[1], rtol=1e-6)


class Exploit:
    """Unpickling this would create the marker folder."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("name", ["weights.pkl", "w.pickle", "model.pt", "m.pth", "c.ckpt",
                                  "x.joblib", "pytorch_model.bin", "innocent.safetensors",
                                  "zipped.bin"])
def test_pickle_files_refuse_the_repository_unread(tmp_path, name):
    save_tiny(tmp_path / "m" / "1")
    marker = tmp_path / "pwned"
    bad = tmp_path / "m" / "1" / name
    payload = pickle.dumps(Exploit(str(marker)), protocol=4)
    if name == "zipped.bin":  # torch.save's format: a zip holding data.pkl
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("archive/data.pkl", payload)
    else:
        bad.write_bytes(payload)
    with pytest.raises(RepositoryError) as e:
        Repository(tmp_path)
    assert str(bad) in str(e.value) and "pickle" in str(e.value)
    assert not marker.exists()
    assert find_pickles(tmp_path) == [bad]


def test_pickle_in_a_new_version_is_refused_and_never_loaded(tmp_path, caplog):
    save_tiny(tmp_path / "m" / "1")
    repo = Repository(tmp_path)
    save_tiny(tmp_path / "m" / "2", version=2, seed=2)
    marker = tmp_path / "pwned"
    (tmp_path / "m" / "2" / "extra.pkl").write_bytes(pickle.dumps(Exploit(str(marker))))
    assert repo.poll() == [] and repo.versions("m") == [1]
    assert "pickle-format file" in caplog.text and not marker.exists()


def test_safetensors_and_json_are_not_mistaken_for_pickles(tmp_path):
    save_tiny(tmp_path / "m" / "1")
    (tmp_path / "m" / "README.bin").write_bytes(json.dumps({"a": 1}).encode())
    (tmp_path / "m" / "empty.bin").write_bytes(b"")
    assert find_pickles(tmp_path) == []


def test_request_racing_a_retired_version(tmp_path):
    import asyncio

    from fathom.serve.app import create_app

    models = tiny_repository(tmp_path, {"m": [1, 2]})
    app = create_app(Repository(tmp_path))
    repo = app.state.fathom.repo
    x = np.ones((1, 4), np.float32)

    async def post(path):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(path, json=infer_body(data=x.ravel().tolist()))
            return r.status_code, r.json()

    try:
        v2 = repo.get("m", 2)
        v2.runner.close()  # v2 is being retired but still listed: the request cannot run
        code, doc = asyncio.run(post("/v2/models/m/infer"))
        assert code == 503 and "being unloaded" in doc["error"]
        real_get = repo.get
        # the lookup saw v2, the retry sees the new default (v1) and runs there
        calls = []
        repo.get = lambda name, version=None: (calls.append(version) or v2) \
            if not calls else real_get(name, 1)
        code, doc = asyncio.run(post("/v2/models/m/infer"))
        assert code == 200 and doc["model_version"] == "1"
        np.testing.assert_allclose(doc["outputs"][0]["data"],
                                   eager(models["m", 1], x).ravel(), rtol=1e-6)
    finally:
        repo.close()
