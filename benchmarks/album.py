"""What scrubbing as an album costs over scrubbing photo by photo, on real photos of known
people.

    .venv/bin/python benchmarks/album.py [--people 10] [--photos 3] [--mode obfuscate]

Takes the first PHOTOS original photos of the first PEOPLE identities of
``../shared/data/celeba_aligned_sample`` (178x218 JPEGs), decoded once, and times with the
production model sizes (``scrub_photo.full_size_scrubber``) and the identity check off in
both: the photo-by-photo loop (``Scrubber.scrub_photo``), then the album (``find_people``:
detect, align, embed, group; ``AlbumScrub``: each person's values and mixing map; then every
photo). Prints seconds per photo for each part and how well the grouping matched the
identity file. Needs the extra infoscrub[identity].
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent.parent / "shared" / "data" / "celeba_aligned_sample"


def main() -> None:
    import sys

    sys.path.insert(0, str(HERE))
    from identity import purity_completeness
    from scrub_photo import full_size_scrubber

    from infoscrub.consistent_album import AlbumScrub, find_people
    from infoscrub.data.identities import read_identities
    from infoscrub.edit_request import EditRequest
    from infoscrub.photo_io import decode_photo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--mode", default="obfuscate", choices=["invert", "obfuscate"])
    args = parser.parse_args()

    by_person: dict[int, list[str]] = {}
    for name, person in sorted(read_identities(SAMPLE).items()):
        by_person.setdefault(person, []).append(name)
    chosen = [(person, name) for person, names in list(by_person.items())[:args.people]
              for name in names[:args.photos]]
    photos = [decode_photo((SAMPLE / "img_align_celeba" / name).read_bytes(), name=name) for _, name in chosen]
    truth = np.array([person for person, _ in chosen])
    scrubber, weights = full_size_scrubber()
    attributes = ["Eyeglasses", "Male"]
    scrubber.scrub_photo(photos[0], attributes, args.mode)  # warm-up

    start = time.perf_counter()
    for photo in photos:
        scrubber.scrub_photo(photo, attributes, args.mode)
    loop = time.perf_counter() - start

    start = time.perf_counter()
    album = find_people(scrubber, photos, names=[name for _, name in chosen])
    found = time.perf_counter() - start
    start = time.perf_counter()
    job = AlbumScrub(scrubber, album, EditRequest(attributes, args.mode))
    planned = time.perf_counter() - start
    start = time.perf_counter()
    for k, photo in enumerate(photos):
        job.scrub(k, photo)
    scrubbed = time.perf_counter() - start

    groups = album.person
    purity, completeness = purity_completeness(groups, np.array([truth[f.photo] for f in album.faces]))
    n = len(photos)
    print(json.dumps({
        "photos": n, "faces": len(album.faces), "people": len(set(truth.tolist())),
        "groups_found": len(set(groups.tolist())), "purity": purity, "completeness": completeness,
        "mode": args.mode, "weights": weights,
        "seconds_per_photo": {"photo_by_photo": round(loop / n, 4),
                              "album_find_people": round(found / n, 4), "album_plan": round(planned / n, 4),
                              "album_scrub": round(scrubbed / n, 4),
                              "album_total": round((found + planned + scrubbed) / n, 4)},
        "album_over_loop": round((found + planned + scrubbed) / loop, 3)}, indent=2))


if __name__ == "__main__":
    main()
