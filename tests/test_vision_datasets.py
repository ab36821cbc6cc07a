"""fathom.vision.datasets: IDX and CIFAR-10 binary reading, lookup, errors, downloads over a
loopback HTTP server (never the network), safe extraction, and the real Fashion-MNIST from
the Debian package `dataset-fashion-mnist` when it is installed."""
import functools
import gzip
import http.server
import io
import os
import shutil
import socket
import struct
import tarfile
import threading

import numpy as np
import pytest

import fathom
from fathom.utils.data import DataLoader
from fathom.vision import datasets, transforms
from fathom.vision.datasets import mnist as mnist_mod
from fathom.vision.datasets.utils import download_url, md5sum, read_idx

FASHION_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def idx_bytes(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + \
        struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path, arr, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = idx_bytes(arr)
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(data)


def make_mnist(folder, n=6, split="train", gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte{ext}"), images, gz)
    write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte{ext}"), labels, gz)
    return images, labels


def fashion_folder():
    files = mnist_mod.package_files("dataset-fashion-mnist")
    found = [f for f in files if os.path.basename(f) in FASHION_FILES and os.path.isfile(f)]
    return os.path.dirname(found[0]) if len(found) == 4 else None


needs_fashion = pytest.mark.skipif(fashion_folder() is None,
                                   reason="Debian package dataset-fashion-mnist not installed")


# --- MNIST from IDX files ------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["flat", "raw"])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_in_both_layouts(tmp_path, layout, gz):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    images, labels = make_mnist(str(folder), gz=gz)
    ds = datasets.MNIST(tmp_path)
    assert ds.data.dtype == np.uint8 and ds.data.shape == (6, 28, 28)
    assert ds.targets.dtype == np.int64 and ds.targets.shape == (6,)
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)
    img, target = ds[2]
    assert isinstance(target, int) and target == labels[2]
    assert isinstance(img, np.ndarray) and img.shape == (28, 28) and img.dtype == np.uint8
    assert len(ds) == 6 and ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9


def test_test_split_and_getitems(tmp_path):
    make_mnist(str(tmp_path), split="t10k", n=5)
    ds = datasets.MNIST(tmp_path, train=False, transform=transforms.ToTensor(),
                        target_transform=lambda y: y + 100)
    batch = ds.__getitems__([4, 0, 2])
    assert [t for _, t in batch] == [ds[i][1] for i in (4, 0, 2)]
    for (x, _), i in zip(batch, (4, 0, 2)):
        assert x.shape == (1, 28, 28)
        np.testing.assert_array_equal(x.numpy(), ds[i][0].numpy())
    assert all(t >= 100 for _, t in batch)
    plain = datasets.MNIST(tmp_path, train=False)
    items = plain.__getitems__([1, 3])
    np.testing.assert_array_equal(items[1][0], plain.data[3])
    assert items[0][1] == int(plain.targets[1])


def test_repr_like_torchvision(tmp_path):
    make_mnist(str(tmp_path))
    ds = datasets.MNIST(tmp_path, transform=transforms.Compose([transforms.ToTensor()]))
    assert repr(ds) == (
        "Dataset MNIST\n"
        "    Number of datapoints: 6\n"
        f"    Root location: {tmp_path}\n"
        "    Split: Train\n"
        "    StandardTransform\n"
        "Transform: Compose(\n"
        "               ToTensor()\n"
        "           )")
    assert repr(datasets.MNIST(tmp_path)).endswith("Split: Train")


def test_root_none_uses_fathom_data(tmp_path, monkeypatch):
    make_mnist(str(tmp_path))
    monkeypatch.setenv("FATHOM_DATA", str(tmp_path))
    assert datasets.MNIST().root == str(tmp_path)


def test_loader_batches(tmp_path):
    make_mnist(str(tmp_path), n=10)
    ds = datasets.MNIST(tmp_path)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 28, 28) and x.dtype == fathom.uint8 and y.dtype == fathom.int64
    ds = datasets.MNIST(tmp_path, transform=transforms.ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == fathom.float32
    np.testing.assert_array_equal(y.numpy(), ds.targets[:4])


# --- errors -------------------------------------------------------------------------------------

def test_missing_dataset_names_every_candidate_and_the_remedy(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        datasets.MNIST(tmp_path)
    msg = str(e.value)
    assert isinstance(e.value, datasets.DatasetNotFoundError)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        for p in (tmp_path / stem, tmp_path / "MNIST" / "raw" / (stem + ".gz")):
            assert str(p) in msg
    assert "download=True" in msg


def test_fashion_missing_without_the_package_says_apt(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_mod, "_DPKG_INFO", str(tmp_path / "no-dpkg"))
    monkeypatch.setattr(mnist_mod.shutil, "which", lambda name: None)
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.FashionMNIST(tmp_path / "data")
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "download=True" in msg
    assert str(tmp_path / "data" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte") in msg


def test_partial_files_under_root_do_not_fall_back(tmp_path):
    images, _ = make_mnist(str(tmp_path))
    os.remove(tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(datasets.DatasetNotFoundError, match="train-labels-idx1-ubyte"):
        datasets.FashionMNIST(tmp_path)


def test_one_split_under_root_means_no_package_fallback_for_the_other(tmp_path):
    make_mnist(str(tmp_path))  # train files only
    assert len(datasets.FashionMNIST(tmp_path)) == 6
    with pytest.raises(datasets.DatasetNotFoundError, match="t10k-images-idx3-ubyte"):
        datasets.FashionMNIST(tmp_path, train=False)


@pytest.mark.parametrize("damage, match", [
    (lambda b: b"\x08\x03" + b[2:], "bad magic"),
    (lambda b: b[:-5], "truncated"),
    (lambda b: b + b"xx", "past the"),
    (lambda b: b[:6], "truncated IDX header"),
    (lambda b: b"", "bad magic"),
])
def test_malformed_idx_names_the_file(tmp_path, damage, match):
    make_mnist(str(tmp_path))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(datasets.IDXFormatError, match=match) as e:
        datasets.MNIST(tmp_path)
    assert str(path) in str(e.value) and isinstance(e.value, ValueError)


def test_wrong_dims_and_truncated_gzip(tmp_path):
    make_mnist(str(tmp_path))
    # a labels file where the images should be: 1 dim, not 3
    shutil.copy(tmp_path / "train-labels-idx1-ubyte", tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(datasets.DatasetFormatError, match="3 dims") as e:
        datasets.MNIST(tmp_path)
    assert "train-images-idx3-ubyte" in str(e.value)
    other = tmp_path / "gz"
    make_mnist(str(other), gz=True)
    path = other / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(datasets.IDXFormatError, match="gzip") as e:
        datasets.MNIST(other)
    assert str(path) in str(e.value)


def test_read_idx_other_types(tmp_path):
    arr = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "x.idx"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x0C, 2) + struct.pack(">2I", 2, 3) +
                     arr.tobytes())
    out = read_idx(path)
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


# --- the real Fashion-MNIST from the Debian package ----------------------------------------------

@needs_fashion
def test_real_fashion_mnist_from_the_debian_package(tmp_path):
    train = datasets.FashionMNIST(tmp_path / "empty")
    assert train.data.shape == (60000, 28, 28) and train.data.dtype == np.uint8
    assert train.targets.shape == (60000,) and train.targets.dtype == np.int64
    assert np.bincount(train.targets).tolist() == [6000] * 10
    test = datasets.FashionMNIST(tmp_path / "empty", train=False)
    assert test.data.shape == (10000, 28, 28)
    assert np.bincount(test.targets).tolist() == [1000] * 10
    assert train.classes[9] == "Ankle boot" and len(train.classes) == 10
    img, target = train[0]
    assert img.shape == (28, 28) and img.dtype == np.uint8 and isinstance(target, int)


# --- downloads over loopback ---------------------------------------------------------------------

class _Server:
    """http.server on 127.0.0.1 (port 0) in a thread, serving `folder`, counting GETs."""

    def __init__(self, folder):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    servers = []

    def start(folder):
        servers.append(_Server(folder))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _leftovers(folder):
    return [f for f in os.listdir(folder) if f.endswith(".tmp")] if os.path.isdir(folder) else []


@needs_fashion
def test_download_fashion_mnist_from_a_mirror(tmp_path, serve, monkeypatch):
    pkg = fashion_folder()
    server = serve(pkg)
    # the mirror serves Debian's recompressed files: their MD5s, not the canonical ones
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/", server.url])
    monkeypatch.setattr(datasets.FashionMNIST, "resources",
                        [(f, md5sum(os.path.join(pkg, f))) for f in FASHION_FILES])
    monkeypatch.setattr(mnist_mod, "_DPKG_INFO", str(tmp_path / "no-dpkg"))  # no fallback
    monkeypatch.setattr(mnist_mod.shutil, "which", lambda name: None)
    ds = datasets.FashionMNIST(tmp_path, train=False, download=True)
    raw = tmp_path / "FashionMNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(FASHION_FILES)
    for f in FASHION_FILES:
        assert md5sum(raw / f) == md5sum(os.path.join(pkg, f))
    assert ds.data.shape == (10000, 28, 28) and np.bincount(ds.targets).tolist() == [1000] * 10
    assert len(server.requests) == 4
    datasets.FashionMNIST(tmp_path, train=False, download=True)
    assert len(server.requests) == 4  # present with good checksums: nothing fetched again


def test_download_replaces_a_bad_file_and_skips_good_ones(tmp_path, serve):
    src = tmp_path / "mirror"
    src.mkdir()
    (src / "a.bin").write_bytes(b"payload" * 1000)
    server = serve(src)
    md5 = md5sum(src / "a.bin")
    dest = tmp_path / "dest" / "a.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"stale")
    download_url([server.url + "a.bin"], dest, md5)
    assert md5sum(dest) == md5 and len(server.requests) == 1
    download_url([server.url + "a.bin"], dest, md5)
    assert len(server.requests) == 1
    assert _leftovers(dest.parent) == []


def test_corrupt_download_is_rejected_and_leaves_nothing(tmp_path, serve, monkeypatch):
    src = tmp_path / "mirror"
    images, labels = make_mnist(str(src), gz=True)
    good = {f: md5sum(src / f) for f in os.listdir(src)}
    blob = bytearray((src / "train-images-idx3-ubyte.gz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte
    (src / "train-images-idx3-ubyte.gz").write_bytes(bytes(blob))
    server = serve(src)
    monkeypatch.setattr(datasets.MNIST, "mirrors", [server.url])
    monkeypatch.setattr(datasets.MNIST, "resources", sorted(good.items()))
    with pytest.raises(datasets.ChecksumError) as e:
        datasets.MNIST(tmp_path / "data", download=True)
    msg = str(e.value)
    assert server.url + "train-images-idx3-ubyte.gz" in msg
    assert good["train-images-idx3-ubyte.gz"] in msg
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte.gz").exists()
    assert _leftovers(raw) == []


def test_offline_download_names_urls_and_cause(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mirrors = [f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"]
    monkeypatch.setattr(datasets.MNIST, "mirrors", mirrors)
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(datasets.DownloadError) as e:
        datasets.MNIST(tmp_path, download=True)
    msg = str(e.value)
    assert not isinstance(e.value, datasets.ChecksumError)
    for m in mirrors:
        assert m + "train-images-idx3-ubyte.gz" in msg
    assert "Connection refused" in msg or "ConnectionRefusedError" in msg
    assert _leftovers(tmp_path / "MNIST" / "raw") == []


# --- CIFAR-10 binary ------------------------------------------------------------------------------

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def make_cifar(folder, n=3, seed=0):
    """Official layout: per record 1 label byte, then R, G, B planes of 1024 bytes each."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1)
        records.tofile(os.path.join(folder, name))
        out[name] = (labels, planes)
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CIFAR_CLASSES) + "\n\n")
    return out


def test_cifar10_reads_the_binary_records(tmp_path):
    made = make_cifar(str(tmp_path / "cifar-10-batches-bin"))
    ds = datasets.CIFAR10(tmp_path)
    assert ds.data.shape == (15, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64 and ds.classes == CIFAR_CLASSES
    labels, planes = made["data_batch_2.bin"]
    np.testing.assert_array_equal(ds.data[3:6], planes.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ds.targets[3:6], labels)
    img, target = ds[4]
    assert img.shape == (32, 32, 3) and target == labels[1]
    # red plane's first row is the first 32 pixel bytes of the record
    assert img[0, :, 0].tolist() == planes[1, 0, 0].tolist()
    test = datasets.CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    assert len(test) == 3 and test[0][0].shape == (3, 32, 32)
    np.testing.assert_array_equal(test[0][0].numpy() * 255,
                                  made["test_batch.bin"][1][0].astype(np.float32))
    assert test.class_to_idx["truck"] == 9
    assert "Split: Test" in repr(test)


def test_cifar10_missing_and_malformed(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.CIFAR10(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "cifar-10-batches-bin" / "data_batch_5.bin") in msg
    assert "batches.meta.txt" in msg and "download=True" in msg and "binary" in msg
    make_cifar(str(tmp_path / "cifar-10-batches-bin"))
    bad = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    bad.write_bytes(bad.read_bytes()[:-7])
    with pytest.raises(datasets.DatasetFormatError, match="3073-byte") as e:
        datasets.CIFAR10(tmp_path)
    assert str(bad) in str(e.value)


def _tar_gz(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def test_cifar10_download_and_extract(tmp_path, serve, monkeypatch):
    made = make_cifar(str(tmp_path / "src" / "cifar-10-batches-bin"))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "cifar-10-binary.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    server = serve(mirror)
    monkeypatch.setattr(datasets.CIFAR10, "url", server.url + "cifar-10-binary.tar.gz")
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", md5sum(mirror / "cifar-10-binary.tar.gz"))
    ds = datasets.CIFAR10(tmp_path / "data", download=True)
    np.testing.assert_array_equal(ds.targets[:3], made["data_batch_1.bin"][0])
    datasets.CIFAR10(tmp_path / "data", train=False, download=True)
    assert len(server.requests) == 1


@pytest.mark.parametrize("member", ["../evil.bin", "/tmp/evil-abs.bin", "link"])
def test_unsafe_tar_members_are_rejected(tmp_path, member):
    archive = tmp_path / "a.tar.gz"
    ok = tarfile.TarInfo("cifar-10-batches-bin/ok.bin")
    ok.size = 3
    bad = tarfile.TarInfo(member)
    if member == "link":
        bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
        data = None
    else:
        bad.size, data = 4, b"evil"
    _tar_gz(archive, [(ok, b"abc"), (bad, data)])
    dest = tmp_path / "dest"
    with pytest.raises(datasets.UnsafeArchiveError, match=member.lstrip("./")):
        datasets.utils.extract_tar(archive, dest)
    assert not (tmp_path / "evil.bin").exists() and not dest.exists()


# --- FakeData -------------------------------------------------------------------------------------

def test_fake_data():
    state = fathom.get_rng_state().numpy().copy()
    ds = datasets.FakeData(size=5, image_size=(3, 6, 4), num_classes=3)
    img, target = ds[1]
    assert img.shape == (6, 4, 3) and img.dtype == np.uint8 and 0 <= target < 3
    np.testing.assert_array_equal(ds[1][0], img)  # the same item every time
    assert not np.array_equal(ds[2][0], img)
    np.testing.assert_array_equal(fathom.get_rng_state().numpy(), state)
    assert datasets.FakeData(2, (1, 5, 5))[0][0].shape == (5, 5)
    with pytest.raises(IndexError):
        ds[5]
    assert len(ds.__getitems__([0, 4])) == 2
    assert repr(ds) == "Dataset FakeData\n    Number of datapoints: 5"
    t = datasets.FakeData(4, (1, 28, 28), transform=transforms.ToTensor())
    x, _ = next(iter(DataLoader(t, batch_size=4)))
    assert x.shape == (4, 1, 28, 28)
