"""The README's "Using the API" curl session, run as written against a live server: upload,
annotate by mask, launch `telea` in the embedded runner, follow, download the result."""

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from heritage import demo, imaging, tokens
from heritage.models import DamageAnnotation, Motif
from restoration.models import RestorationJob

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_session() -> str:
    """The shell block after the README's `<!-- api-session -->` marker."""
    text = README.read_text()
    match = re.search(r"<!-- api-session -->\n```sh\n(.*?)\n```", text, re.S)
    assert match, "README has no api-session block"
    return match.group(1)


@pytest.mark.skipif(not shutil.which("curl"), reason="needs curl")
@pytest.mark.django_db(transaction=True)
def test_the_readme_curl_session_works(
    live_server,
    settings,
    tmp_path,
    curator,
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RESTORATION_RUNNER = "embedded"
    _token, key = tokens.token_create(user=curator, name="readme")
    work = tmp_path / "work"
    work.mkdir()
    artwork = demo.rock_art(seed=4, width=96, height=64, damaged=False).image
    (work / "mural.png").write_bytes(imaging.encode_png(artwork))
    mural = np.asarray(artwork.convert("RGB"))
    # Half the motif's size, same proportions: the session's resize=true scales it up.
    mask = np.zeros((32, 48), np.uint8)
    mask[8:16, 10:30] = 255
    Image.fromarray(mask, "L").save(work / "mask.png")

    script = readme_session().replace("http://127.0.0.1:8000", live_server.url)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "TOKEN": key, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    motif = Motif.objects.get()
    annotation = DamageAnnotation.objects.get()
    job = RestorationJob.objects.get()
    assert (motif.title, motif.site.name) == ("North wall, panel 3", "Mogao Cave 285")
    assert annotation.method == "imported" and annotation.kinds == ["crack"]
    assert (job.engine, job.status, job.params["radius"]) == ("telea", "succeeded", 5)
    assert f"job {job.pk}: succeeded" in done.stdout
    assert '"engine":"telea"' in done.stdout.replace(" ", "")
    restored = np.asarray(Image.open(io.BytesIO((work / "restored.png").read_bytes())))
    assert restored.shape == (64, 96, 3)
    # The resized mask covers rows 16-31, columns 20-59; every pixel outside it is the original.
    damaged = np.zeros((64, 96), bool)
    damaged[16:32, 20:60] = True
    assert np.array_equal(restored[~damaged], mural[~damaged])
    assert not np.array_equal(restored[damaged], mural[damaged])
