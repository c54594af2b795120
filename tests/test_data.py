"""Data layer: both CelebA layouts, every error path of `data check`, shard round trip."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infoscrub.cli import main
from infoscrub.data import load_image_set, read_celeba_folder
from infoscrub.data.balanced import balanced_indices
from infoscrub.data.batches import DeviceBatches
from infoscrub.data.check import check_folder
from infoscrub.data.conventions import prepare_image
from infoscrub.data.images import load_face
from infoscrub.data.shards import PackSettings, load_packed, pack_split, read_manifest
from infoscrub.errors import InfoscrubError
from synthetic import make_celeba_folder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "celebahq128").is_dir(), reason="../shared/data not present")


# ---- the real data, when present -------------------------------------------------------

@needs_shared
def test_celebahq128_counts():
    summary = check_folder(SHARED / "celebahq128", decode=False)
    assert summary.count == 27000
    assert summary.partitions == {"train": 24000, "val": 1000, "test": 2000}
    assert 0.3 < summary.positive_rates["Male"] < 0.5


@needs_shared
def test_celeba_aligned_sample_counts_and_decodes(capsys):
    assert main(["data", "check", str(SHARED / "celeba_aligned_sample")]) == 0
    out = capsys.readouterr().out
    assert "1020 images" in out and "Eyeglasses" in out


@needs_shared
@pytest.mark.parametrize("folder,alignment", [("celebahq128", "celebahq"), ("celeba_aligned_sample", "celeba")])
def test_both_real_layouts_load_at_model_size(folder, alignment):
    images = load_image_set(SHARED / folder, "test", 128, limit=6)
    assert images.images.shape == (6, 3, 128, 128) and images.images.dtype == torch.uint8
    assert images.alignment == alignment and len(images.attribute_names) == 40
    assert images.targets(["Male", "Young"]).shape == (6, 2)


# ---- synthetic folders -----------------------------------------------------------------

def test_celeba_layout_is_centre_cropped(tmp_path):
    root = make_celeba_folder(tmp_path / "c", n=6, layout="celeba")
    index = read_celeba_folder(root)
    assert index.image_dir.name == "img_align_celeba"
    raw = Image.open(index.image_dir / index.names[0]).convert("RGB")
    assert raw.size == (178, 218)
    expected = np.asarray(raw.crop((0, 20, 178, 198)).resize((64, 64), Image.Resampling.LANCZOS))
    assert np.array_equal(load_face(index.image_dir / index.names[0], "celeba", 64), expected)


def test_celebahq_layout_needs_no_crop_and_rejects_non_square(tmp_path):
    image = Image.new("RGB", (128, 128), (10, 20, 30))
    assert prepare_image(image, "celebahq", 128) is image  # nothing to do
    with pytest.raises(InfoscrubError, match="not square"):
        prepare_image(Image.new("RGB", (100, 120)), "celebahq", 128)


def _rewrite_attr(root: Path, edit) -> None:
    path = root / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize("edit,message", [
    (lambda ls: ["x"] + ls[1:], "expected the image count"),
    (lambda ls: ls[:2] + [ls[2] + " 1"] + ls[3:], "expected a name and 40 values"),
    (lambda ls: ls[:2] + [ls[2].replace(" -1", " 0", 1).replace(" 1", " 0", 1)] + ls[3:], "values must be 1 or -1"),
    (lambda ls: ls[:-1], "header says"),
])
def test_malformed_annotation_files(tmp_path, edit, message, capsys):
    root = make_celeba_folder(tmp_path / "d", n=8)
    _rewrite_attr(root, edit)
    assert main(["data", "check", str(root)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_rows_without_images_and_images_without_rows(tmp_path):
    root = make_celeba_folder(tmp_path / "d", n=8)
    index = read_celeba_folder(root)
    (index.image_dir / index.names[3]).unlink()
    with pytest.raises(InfoscrubError, match=f"1 annotated rows have no image.*{index.names[3]}"):
        check_folder(root)
    Image.new("RGB", (128, 128)).save(index.image_dir / index.names[3])
    Image.new("RGB", (128, 128)).save(index.image_dir / "99999.jpg")
    with pytest.raises(InfoscrubError, match="1 images .* have no annotation row: 99999.jpg"):
        check_folder(root)


def test_truncated_and_unreadable_images_are_named(tmp_path):
    root = make_celeba_folder(tmp_path / "d", n=8)
    index = read_celeba_folder(root)
    first, second = index.image_dir / index.names[1], index.image_dir / index.names[5]
    first.write_bytes(first.read_bytes()[:300])
    second.write_bytes(b"this is not an image")
    with pytest.raises(InfoscrubError) as err:
        check_folder(root)
    assert "2 images are unreadable or truncated" in str(err.value)
    assert index.names[1] in str(err.value) and index.names[5] in str(err.value)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(InfoscrubError, match="does not exist"):
        read_celeba_folder(tmp_path / "nothing")
    root = make_celeba_folder(tmp_path / "d", n=4)
    (root / "list_eval_partition.txt").unlink()
    with pytest.raises(InfoscrubError, match="no list_eval_partition.txt"):
        read_celeba_folder(root)


@pytest.mark.parametrize("layout", ["celebahq", "celeba"])
def test_shard_round_trip(tmp_path, layout):
    root = make_celeba_folder(tmp_path / "d", n=30, layout=layout)
    manifest = pack_split(root, tmp_path / "packed", PackSettings(split="train", size=64))
    index = read_celeba_folder(root)
    rows = index.split_indices("train")
    packed = load_packed(tmp_path / "packed")
    assert packed.names == [index.names[r] for r in rows]
    assert np.array_equal(packed.labels, index.labels[rows])
    assert manifest["alignment"] == layout and read_manifest(tmp_path / "packed")["count"] == len(rows)
    # Pixels equal a direct decode of the same crop (re-encoded once at the recorded quality).
    for i, row in enumerate(rows[:5]):
        crop = Image.fromarray(load_face(index.image_dir / index.names[row], layout, 64))
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=manifest["jpeg_quality"], subsampling=0)
        direct = np.asarray(Image.open(buffer).convert("RGB"))
        assert np.array_equal(packed.images[i], direct)
    # ... and load_image_set gives the same tensors from the shards as the folder path's names.
    images = load_image_set(tmp_path / "packed", "train", 64)
    assert images.images.shape == (len(rows), 3, 64, 64)
    assert torch.equal(images.images[0], torch.from_numpy(packed.images[0]).permute(2, 0, 1))


def test_model_size_jpegs_are_stored_byte_for_byte(tmp_path):
    root = make_celeba_folder(tmp_path / "d", n=12, size=64)
    pack_split(root, tmp_path / "p", PackSettings(split="train", size=64))
    index = read_celeba_folder(root)
    packed = load_packed(tmp_path / "p")
    first = index.image_dir / packed.names[0]
    assert np.array_equal(packed.images[0], load_face(first, "celebahq", 64))


def test_shards_respect_the_size_limit_and_existing_output_is_kept(tmp_path):
    root = make_celeba_folder(tmp_path / "d", n=40, size=64)
    settings = PackSettings(split="all", size=64, max_shard_bytes=1_000_000 + 30_000)
    manifest = pack_split(root, tmp_path / "p", settings)
    assert len(manifest["shards"]) > 1
    assert all(s["bytes"] <= settings.max_shard_bytes for s in manifest["shards"])
    assert sum(s["count"] for s in manifest["shards"]) == 40
    with pytest.raises(InfoscrubError, match="--force"):
        pack_split(root, tmp_path / "p", settings)
    with pytest.raises(InfoscrubError, match="holds the all split"):
        load_image_set(tmp_path / "p", "train", 64)
    with pytest.raises(InfoscrubError, match="packed at 64px"):
        load_image_set(tmp_path / "p", "all", 128)


def test_pack_cli(tmp_path, capsys):
    root = make_celeba_folder(tmp_path / "d", n=12)
    assert main(["data", "pack", str(root), "--split", "train", "--out", str(tmp_path / "p")]) == 0
    assert "packed" in capsys.readouterr().out
    assert main(["data", "pack", str(root), "--split", "train", "--out", str(tmp_path / "p")]) == 2
    assert "--force" in capsys.readouterr().err


def test_balanced_subsets_are_balanced_and_seeded():
    positive = np.array([1] * 30 + [0] * 70)
    a = balanced_indices(positive, 10, seed=0, key="Male")
    assert len(a) == 20 and positive[a].sum() == 10
    assert np.array_equal(a, balanced_indices(positive, 10, seed=0, key="Male"))
    assert not np.array_equal(a, balanced_indices(positive, 10, seed=1, key="Male"))
    full = balanced_indices(positive, None, seed=0, key="Male")
    assert len(full) == 60 and positive[full].sum() == 30


def test_device_batches_are_a_function_of_the_step():
    images = torch.arange(20 * 3 * 4 * 4, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(20, 3, 4, 4)
    labels = torch.arange(20).float()[:, None]
    a = DeviceBatches(images, labels, batch_size=6, seed=3)
    b = DeviceBatches(images, labels, batch_size=6, seed=3)
    for step in (7, 0, 3, 7):
        xa, ya = a.batch(step)
        xb, yb = b.batch(step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert xa.min() >= -1 and xa.max() <= 1
    epoch = torch.cat([a.batch(s)[1] for s in range(3)]).flatten().tolist()
    assert len(set(epoch)) == 18  # no image twice within an epoch
    ranks = [DeviceBatches(images, labels, 5, 3, rank=r, world_size=2) for r in range(2)]
    seen = [set(r.batch(0)[1].flatten().tolist()) | set(r.batch(1)[1].flatten().tolist()) for r in ranks]
    assert not seen[0] & seen[1]  # ranks draw from disjoint shards
