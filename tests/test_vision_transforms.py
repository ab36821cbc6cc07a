"""fathom.vision.transforms against torchvision's semantics (hand-computed cases; torch's
own math where torch is installed; torchvision is not needed)."""
import doctest
import sys

import numpy as np
import pytest

import fathom
from fathom.vision import models, transforms as T, utils


def img(h, w, c=None, dtype=np.uint8):
    shape = (h, w) if c is None else (h, w, c)
    return (np.arange(np.prod(shape)) % 251).astype(dtype).reshape(shape)


# --- ToTensor / Normalize ---------------------------------------------------------------------

def test_to_tensor_layout_dtype_and_scale():
    x = img(4, 5, 3)
    t = T.ToTensor()(x)
    assert isinstance(t, fathom.Tensor) and t.shape == (3, 4, 5) and t.dtype == fathom.float32
    np.testing.assert_array_equal(t.numpy(), x.transpose(2, 0, 1).astype(np.float32) / 255)
    assert T.ToTensor()(img(4, 5)).shape == (1, 4, 5)
    assert t.numpy().flags.c_contiguous


def test_to_tensor_matches_torch_division(torch):
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ref = torch.from_numpy(x[None].copy()).to(torch.float32).div(255)
    np.testing.assert_array_equal(T.ToTensor()(x).numpy(), ref.numpy())


def test_to_tensor_keeps_other_dtypes_and_rejects_bad_input():
    x = np.linspace(0, 3, 12).reshape(2, 2, 3)  # float64 values are not scaled
    t = T.ToTensor()(x)
    assert t.dtype == fathom.float64
    np.testing.assert_array_equal(t.numpy(), x.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="ToTensor"):
        T.ToTensor()(fathom.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))
    assert repr(T.ToTensor()) == "ToTensor()"


def test_normalize_matches_torch_math(torch):
    x = np.random.default_rng(0).random((3, 5, 4), dtype=np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    out = T.Normalize(mean, std)(fathom.tensor(x))
    tx = torch.from_numpy(x)
    ref = (tx - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
    # a batch (N, C, H, W) broadcasts the same way; one mean/std for all channels too
    out = T.Normalize((0.5,), (0.25,))(fathom.tensor(x[None]))
    np.testing.assert_allclose(out.numpy(), (x[None] - 0.5) / 0.25, rtol=1e-6)


def test_normalize_keeps_the_graph_and_pickles_after_use():
    import pickle
    x = fathom.ones(1, 2, 2, requires_grad=True)
    norm = T.Normalize([0.5], [0.25])
    norm(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 2, 2), 4.0))
    again = pickle.loads(pickle.dumps(T.Compose([T.ToTensor(), norm])))
    np.testing.assert_allclose(again(np.zeros((2, 2), np.uint8)).numpy(), -2.0)


def test_normalize_inplace_and_errors():
    t = fathom.ones(1, 2, 2)
    out = T.Normalize([0.5], [0.5], inplace=True)(t)
    assert out is t and float(t.sum()) == 4.0
    t2 = fathom.ones(1, 2, 2)
    T.Normalize([0.5], [0.5])(t2)
    assert float(t2.sum()) == 4.0  # not inplace: input untouched
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.0], [0.0])(t2)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize([0.0], [1.0])(fathom.zeros(1, 2, 2, dtype=fathom.int64))
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0.0, 0.0], [1.0, 1.0])(fathom.zeros(3, 2, 2))
    with pytest.raises(TypeError, match="ToTensor first"):
        T.Normalize([0.0], [1.0])(np.zeros((2, 2), np.float32))
    assert repr(T.Normalize((0.1307,), (0.3081,))) == \
        "Normalize(mean=(0.1307,), std=(0.3081,))"


# --- RandomCrop / pad ---------------------------------------------------------------------------

def test_pad_modes_hand_computed():
    row = np.array([[1, 2, 3]], dtype=np.uint8)
    assert T.pad(row, (2, 0), padding_mode="reflect")[0].tolist() == [3, 2, 1, 2, 3, 2, 1]
    assert T.pad(row, (2, 0), padding_mode="symmetric")[0].tolist() == [2, 1, 1, 2, 3, 3, 2]
    assert T.pad(row, (2, 0), padding_mode="edge")[0].tolist() == [1, 1, 1, 2, 3, 3, 3]
    assert T.pad(row, (2, 0), fill=9)[0].tolist() == [9, 9, 1, 2, 3, 9, 9]
    # (left, top, right, bottom)
    out = T.pad(row, (1, 2, 3, 0), fill=7)
    assert out.shape == (3, 7) and out[2].tolist() == [7, 1, 2, 3, 7, 7, 7]
    # a per-channel fill for an (H, W, C) array and for a (C, H, W) tensor
    rgb = np.zeros((1, 1, 3), np.uint8)
    assert T.pad(rgb, 1, fill=(1, 2, 3))[0, 0].tolist() == [1, 2, 3]
    t = T.pad(fathom.zeros(3, 1, 1), 1, fill=(1.0, 2.0, 3.0))
    assert t.numpy()[:, 0, 0].tolist() == [1.0, 2.0, 3.0]


def test_random_crop_is_the_padded_window_at_the_drawn_offset():
    x = img(6, 6)
    crop = T.RandomCrop(4, padding=2)
    fathom.manual_seed(3)
    out = crop(x)
    fathom.manual_seed(3)
    padded = np.pad(x, 2)
    i, j, h, w = T.RandomCrop.get_params(padded, (4, 4))
    assert out.shape == (4, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, padded[i:i + 4, j:j + 4])
    # same seed, same crops: reproducible from fathom's global RNG
    fathom.manual_seed(7)
    a = [crop(x) for _ in range(5)]
    fathom.manual_seed(7)
    b = [crop(x) for _ in range(5)]
    assert all((p == q).all() for p, q in zip(a, b))
    assert len({p.tobytes() for p in a}) > 1


def test_random_crop_generator_leaves_the_global_rng_alone():
    x = img(8, 8)
    state = fathom.get_rng_state().numpy().copy()
    g1, g2 = fathom.Generator().manual_seed(1), fathom.Generator().manual_seed(1)
    a = T.RandomCrop(5, generator=g1)(x)
    b = T.RandomCrop(5, generator=g2)(x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fathom.get_rng_state().numpy(), state)


def test_random_crop_tensor_matches_array_path():
    x = img(7, 9, 3)
    fathom.manual_seed(0)
    a = T.RandomCrop((4, 5), padding=(1, 2), padding_mode="reflect")(x)
    fathom.manual_seed(0)
    t = T.RandomCrop((4, 5), padding=(1, 2), padding_mode="reflect")(fathom.tensor(
        x.transpose(2, 0, 1)))
    assert isinstance(t, fathom.Tensor) and t.shape == (3, 4, 5)
    np.testing.assert_array_equal(t.numpy(), a.transpose(2, 0, 1))


def test_random_crop_pad_if_needed_and_errors():
    x = np.ones((3, 5), np.uint8)
    fathom.manual_seed(0)
    out = T.RandomCrop(4, pad_if_needed=True, fill=0)(x)
    assert out.shape == (4, 4)
    # height 3 -> padded by 1 on top and bottom (torchvision pads [0, th - h] = both sides)
    assert T.pad(x, (0, 1)).shape == (5, 5)
    with pytest.raises(ValueError, match=r"crop size \(4, 4\) is larger than input image size "
                                         r"\(3, 5\)"):
        T.RandomCrop(4)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(4, padding_mode="wrap")
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"


def test_random_crop_same_size_draws_nothing():
    state = fathom.get_rng_state().numpy().copy()
    x = img(4, 4)
    np.testing.assert_array_equal(T.RandomCrop(4)(x), x)
    np.testing.assert_array_equal(fathom.get_rng_state().numpy(), state)


# --- RandomHorizontalFlip -----------------------------------------------------------------------

def test_horizontal_flip():
    x = img(2, 3, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    t = fathom.tensor(x.transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(t).numpy(),
                                  x.transpose(2, 0, 1)[:, :, ::-1])
    flip = T.RandomHorizontalFlip()
    fathom.manual_seed(5)
    a = [bool((flip(x) != x).any()) for _ in range(20)]
    fathom.manual_seed(5)
    b = [bool((flip(x) != x).any()) for _ in range(20)]
    assert a == b and 0 < sum(a) < 20
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"


# --- Resize ---------------------------------------------------------------------------------------

def test_resize_output_sizes():
    assert T.Resize(10)(np.zeros((20, 40), np.uint8)).shape == (10, 20)  # smaller edge
    assert T.Resize(10)(np.zeros((40, 20, 3), np.uint8)).shape == (20, 10, 3)
    assert T.Resize([10])(np.zeros((30, 45), np.uint8)).shape == (10, 15)
    assert T.Resize((5, 7))(fathom.zeros(2, 3, 10, 10)).shape == (2, 3, 5, 7)
    assert T.Resize(10, max_size=15)(np.zeros((20, 40), np.uint8)).shape == (7, 15)
    with pytest.raises(ValueError, match="max_size"):
        T.Resize((5, 7), max_size=10)
    x = img(6, 6)
    assert T.Resize(6)(x) is x  # same size: returned as is, as torchvision
    assert repr(T.Resize(32)) == \
        "Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)"


def test_resize_bilinear_hand_computed():
    row = np.array([[0.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    up = T.Resize((1, 8))(fathom.tensor(row[None])).numpy()[0, 0]
    # half-pixel centers, clamped at the borders
    np.testing.assert_allclose(up, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-6)
    down = T.Resize((1, 2), antialias=False)(fathom.tensor(row[None])).numpy()[0, 0]
    np.testing.assert_allclose(down, [0.5, 2.5], atol=1e-6)
    # antialiased: triangle filter widened x2, weights (.75, .75, .25)/1.75 for output 0
    aa = T.Resize((1, 2))(fathom.tensor(row[None])).numpy()[0, 0]
    np.testing.assert_allclose(aa, [1.25 / 1.75, 3 - 1.25 / 1.75], atol=1e-6)
    nearest = T.Resize((1, 8), interpolation="nearest")(row).tolist()[0]
    assert nearest == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("size", [(7, 5), (13, 22), (4, 9), (30, 3)])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_bilinear_matches_torch_interpolate(torch, size, antialias):
    x = np.random.default_rng(1).random((2, 3, 11, 16), dtype=np.float32)
    out = T.Resize(size, antialias=antialias)(fathom.tensor(x)).numpy()
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="bilinear",
                                          align_corners=False, antialias=antialias)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(7, 5), (22, 33), (11, 16)])
def test_resize_nearest_matches_torch_interpolate(torch, size):
    x = np.random.default_rng(2).random((1, 2, 11, 16), dtype=np.float32)
    out = T.Resize(size, interpolation=T.InterpolationMode.NEAREST)(fathom.tensor(x)).numpy()
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="nearest")
    np.testing.assert_array_equal(out, ref.numpy())


def test_resize_uint8_array_rounds_the_float_result():
    x = img(9, 12, 3)
    out = T.Resize((5, 7))(x)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    ref = T.Resize((5, 7))(fathom.tensor(x.transpose(2, 0, 1).astype(np.float32))).numpy()
    np.testing.assert_array_equal(out, np.round(ref).astype(np.uint8).transpose(1, 2, 0))


# --- CenterCrop, Lambda, Compose -----------------------------------------------------------------

def test_center_crop_hand_computed():
    x = np.arange(25).reshape(5, 5)
    np.testing.assert_array_equal(T.CenterCrop(3)(x), x[1:4, 1:4])
    y = np.arange(16).reshape(4, 4)
    # (4 - 3) / 2 = 0.5 rounds half to even -> 0, as torchvision's int(round(...))
    np.testing.assert_array_equal(T.CenterCrop(3)(y), y[0:3, 0:3])
    np.testing.assert_array_equal(T.CenterCrop((2, 4))(y), y[1:3, :])
    small = np.ones((2, 2), np.uint8)
    out = T.CenterCrop(4)(small)  # padded with zeros around
    assert out.tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    out = T.CenterCrop(4)(np.ones((3, 3), np.uint8))  # odd padding: the extra goes right/bottom
    assert out[0].tolist() == [1, 1, 1, 0] and out[3].tolist() == [0, 0, 0, 0]
    t = T.CenterCrop(3)(fathom.tensor(x[None]))
    np.testing.assert_array_equal(t.numpy()[0], x[1:4, 1:4])
    assert repr(T.CenterCrop(3)) == "CenterCrop(size=(3, 3))"


def test_lambda_and_compose():
    double = T.Lambda(lambda a: a * 2)
    assert double(3) == 6 and repr(double) == "Lambda()"
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    c = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    out = c(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(out.numpy(), np.ones((1, 2, 2)))
    assert repr(c) == "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"


def test_bad_image_types_are_named():
    with pytest.raises(TypeError, match="RandomHorizontalFlip: expected a NumPy array"):
        T.RandomHorizontalFlip()([[1, 2]])
    with pytest.raises(ValueError, match=r"CenterCrop: expected a NumPy image"):
        T.CenterCrop(2)(np.zeros((1, 2, 3, 4)))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_augmentation_reproducible_through_the_dataloader(num_workers):
    from fathom.utils.data import DataLoader, Dataset

    class Images(Dataset):
        def __init__(self, transform):
            self.x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
            self.transform = transform

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.transform(self.x[i])

    aug = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.ToTensor()])

    def epoch():
        fathom.manual_seed(11)
        loader = DataLoader(Images(aug), batch_size=4, shuffle=True, num_workers=num_workers)
        return [b.numpy() for b in loader]

    a, b = epoch(), epoch()
    assert all((p == q).all() for p, q in zip(a, b)) and a[0].shape == (4, 1, 8, 8)


# --- make_grid / save_image (fathom.vision.utils) ---------------------------------------------

def test_make_grid_hand_computed():
    x = np.stack([np.full((1, 2, 2), v, np.float32) for v in (1, 2, 3)])
    g = utils.make_grid(fathom.tensor(x), nrow=2, padding=1, pad_value=9).numpy()
    # 1 channel -> 3; 2 rows x 2 columns of 2x2 tiles with 1 pixel of padding around
    assert g.shape == (3, 7, 7)
    assert g[0, 0].tolist() == [9] * 7
    assert g[0, 1].tolist() == [9, 1, 1, 9, 2, 2, 9]
    assert g[0, 4].tolist() == [9, 3, 3, 9, 9, 9, 9]  # the empty 4th cell keeps pad_value
    assert (g[0] == g[2]).all()
    assert utils.make_grid(fathom.rand(10, 3, 8, 8), nrow=5).shape == (3, 22, 52)
    assert utils.make_grid([fathom.rand(3, 4, 4)] * 3, padding=0).shape == (3, 4, 12)
    single = utils.make_grid(fathom.tensor(np.arange(6.0).reshape(2, 3)))
    assert single.shape == (3, 2, 3)  # one image: no padding, as torchvision


def test_make_grid_normalize():
    x = np.array([[[[0.0, 2.0]]], [[[4.0, 8.0]]]], dtype=np.float32)  # (2, 1, 1, 2)
    g = utils.make_grid(fathom.tensor(x), padding=0, normalize=True).numpy()
    assert g[0].tolist() == [[0.0, 0.25, 0.5, 1.0]]
    g = utils.make_grid(fathom.tensor(x), padding=0, normalize=True, scale_each=True).numpy()
    assert g[0].tolist() == [[0.0, 1.0, 0.0, 1.0]]
    g = utils.make_grid(fathom.tensor(x), padding=0, normalize=True, value_range=(0.0, 4.0))
    assert g.numpy()[0].tolist() == [[0.0, 0.5, 1.0, 1.0]]
    np.testing.assert_array_equal(x[1, 0, 0], [4.0, 8.0])  # the input is untouched
    with pytest.raises(TypeError, match="value_range"):
        utils.make_grid(fathom.tensor(x), normalize=True, value_range=[0, 1])


def test_save_image_png(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    x = np.zeros((2, 3, 4, 4), np.float32)
    x[0, 0] = 0.5
    x[1, 2] = 1.0
    path = tmp_path / "grid.png"
    utils.save_image(fathom.tensor(x), path, padding=1)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (11, 6)
        px = np.asarray(im)
    assert px[1, 1].tolist() == [128, 0, 0]  # int(0.5 * 255 + 0.5)
    assert px[1, 6].tolist() == [0, 0, 255] and px[0, 0].tolist() == [0, 0, 0]


def test_save_image_without_writers_says_what_to_install(tmp_path, monkeypatch):
    for mod in ("PIL", "PIL.Image", "matplotlib", "matplotlib.image"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match="Pillow or matplotlib"):
        utils.save_image(fathom.rand(3, 4, 4), tmp_path / "x.png")


def test_docstring_examples():
    for mod in (T, utils, models):
        result = doctest.testmod(mod, extraglobs={"fathom": fathom, "np": np, "models": models})
        assert result.failed == 0, mod.__name__
