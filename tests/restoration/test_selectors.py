"""How the pages print metrics (precision, best marked) and a pending job's place in the queue."""

from restoration import selectors, services
from restoration.models import RestorationJob


def _metrics(**whole) -> dict:
    return {"whole": whole, "damaged": whole}


def _cell(rows, key):
    return next(row for row in rows if row["key"] == key)


def test_metric_rows_print_each_metric_at_its_own_precision():
    rows = selectors.metric_rows(
        _metrics(psnr=27.123456, ssim=0.912345, haarpsi=None, mae=0.0123456, mse=0.000345678)
    )
    texts = {row["key"]: row["whole_text"] for row in rows}
    assert texts["psnr"] == "27.12"
    assert texts["ssim"] == "0.912"
    assert texts["haarpsi"] == "n/a"
    assert texts["mae"] == "0.0123"
    assert texts["mse"] == "0.000346"  # three significant digits, not 0.0003
    assert texts["tv"] == "n/a"
    # Trailing zeros are kept: they say how precise the value is.
    trailing = selectors.metric_rows(_metrics(psnr=30.0, mse=0.01, mae=0.0))
    assert [row["whole_text"] for row in trailing][:1] == ["30.00"]
    assert {row["key"]: row["whole_text"] for row in trailing}["mse"] == "0.0100"
    assert {row["key"]: row["whole_text"] for row in trailing}["mae"] == "0.00"


def test_metrics_mark_best_follows_each_metrics_direction():
    a = selectors.metric_rows(_metrics(psnr=30.0, ssim=0.8, mae=0.02, tv=0.5))
    b = selectors.metric_rows(_metrics(psnr=25.0, ssim=0.9, mae=0.01, tv=0.1))
    c = selectors.metric_rows(_metrics(psnr=None, ssim=0.9, mae=0.03, tv=0.9))
    selectors.metrics_mark_best([a, b, c, []])  # [] : an engine with no result
    best = lambda key: [_cell(rows, key)["whole_best"] for rows in (a, b, c)]  # noqa: E731
    assert best("psnr") == [False, False, True]  # None: identical images, infinite PSNR
    assert best("ssim") == [False, True, True]  # higher is better; ties both marked
    assert best("mae") == [False, True, False]  # lower is better
    assert best("tv") == [False, False, False]  # neither: never marked
    assert best("haarpsi") == [False, False, False]  # no values to compare


def test_a_lone_result_has_no_best_marked():
    rows = selectors.metric_rows(_metrics(psnr=30.0, ssim=0.8))
    selectors.metrics_mark_best([rows])
    assert not any(row["whole_best"] or row["damaged_best"] for row in rows)


def test_a_pending_job_knows_how_many_jobs_are_ahead_of_it(curator, simulated):
    jobs = [
        services.job_create(requested_by=curator, annotation=simulated, engine="telea")
        for _ in range(4)
    ]
    RestorationJob.objects.filter(pk=jobs[0].pk).update(status=RestorationJob.Status.RUNNING)
    RestorationJob.objects.filter(pk=jobs[1].pk).update(status=RestorationJob.Status.CANCELLED)
    for job in jobs:
        job.refresh_from_db()
    assert [selectors.job_queue_ahead(job=job) for job in jobs] == [None, None, 1, 2]
    state = selectors.job_state(job=jobs[3])
    assert state["ahead"] == 2
    assert "ahead" not in selectors.job_state(job=jobs[0])
