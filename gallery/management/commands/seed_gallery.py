"""Restore the demo motifs with classical engines and stylize the demo photograph, then
exhibit, review and study the results."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from gallery.models import Exhibition, ReviewCampaign, UserStudy
from gallery.services import exhibitions, reviews, studies
from gallery.services.showcase import style_showcase
from heritage.management.commands.seed_demo import DEMO_CREDIT
from heritage.models import DamageAnnotation, Motif, User
from restoration import services as restoration_services
from restoration.engines.base import EngineError
from restoration.engines.registry import registry
from restoration.models import Restoration, RestorationJob, Task
from restoration.selectors import engines_without_weights

# Fast enough to run while seeding (under a second each at the demo size of 768x512).
ENGINES = ("telea", "navier_stokes")
# The patch-based engine takes a few seconds a motif: only the exhibited murals get it.
EXEMPLAR_MOTIFS = 4
# The learned engine (seed 000) restores the two motifs whose damage needs the fewest of its
# windows, when its weights are registered (make run registers the shipped ones first); 10 steps
# keep `make run` quick on a CPU.
LEARNED = "prior_diffusion"
LEARNED_MOTIFS = 2
LEARNED_PARAMS = {"steps": 10}
# The demo photographs are rendered in the blue-green style by each style engine's default
# checkpoint (make run registers the shipped models/cyclegan-qinglv and cut-qinglv first),
# when there is one: two engines' images of a photograph make the demo style study.
STYLE_ENGINES = ("cyclegan", "cut")

EXHIBITION_SLUG = "demo-colours-of-the-caves"
CAMPAIGN_TITLE = "Demo review: classical inpainting of the generated panels"
STUDY_SLUG = "demo-which-restoration"


class Command(BaseCommand):
    help = (
        "Add the demo gallery: restorations of the demo motifs (telea, navier_stokes and, for "
        "a few murals, exemplar), the demo photograph in the blue-green style (cyclegan and cut, "
        "each when its weights are registered), a published exhibition (with a stylized "
        "photograph), an open expert review campaign for the demo expert, an open public study "
        "and, with two style engines' images, an open style study. Run seed_demo first. "
        "Running it again adds nothing."
    )

    def handle(self, *args, **options):
        curator = User.objects.filter(username="curator").first()
        if curator is None or not curator.is_curator:
            raise CommandError("Run seed_demo first: the demo curator account is missing.")
        motifs = list(Motif.objects.filter(credit=DEMO_CREDIT).order_by("pk"))
        if not motifs:
            raise CommandError("Run seed_demo first: there are no demo motifs.")
        # Real damage (the generator's own masks) is what an exhibition shows; the intact twins
        # with simulated damage have a ground truth, which makes them good review material.
        real = [(m, self._annotation(m, simulated=False)) for m in motifs]
        real = [(m, a) for m, a in real if a is not None]
        murals = [(m, a) for m, a in real if "mural" in m.style.lower()]

        plan = [(a, engine, None) for _, a in real for engine in ENGINES]
        plan += [(a, "exemplar", None) for _, a in murals[:EXEMPLAR_MOTIFS]]
        learned = []
        if LEARNED in registry().names() and not engines_without_weights([LEARNED]):
            learned = _cheapest(real, LEARNED_MOTIFS)
            plan += [(a, LEARNED, LEARNED_PARAMS) for _, a in learned]
        shown = murals[:EXEMPLAR_MOTIFS] + [w for w in learned if w not in murals[:EXEMPLAR_MOTIFS]]
        made = self._restore(plan, curator, options)
        stylized = self._stylize(motifs, curator)

        with transaction.atomic():
            created = [
                self._exhibition(curator, murals[:EXEMPLAR_MOTIFS]),
                self._campaign(curator, real[:4] + [w for w in learned if w not in real[:4]]),
                self._study(curator, shown),
                self._style(curator),
            ]
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo gallery: {made} restorations and {stylized} style transfers run; "
                + ", ".join(name for name in created if name)
                + ("." if any(created) else "exhibition, review and study already present.")
            )
        )

    def _annotation(self, motif: Motif, *, simulated: bool) -> DamageAnnotation | None:
        annotations = motif.annotations.filter(superseded_by__isnull=True)
        if simulated:
            return annotations.filter(method=DamageAnnotation.Method.SIMULATED).first()
        return annotations.exclude(method=DamageAnnotation.Method.SIMULATED).first()

    def _restore(self, plan, curator: User, options) -> int:
        """Run each (annotation, engine, params) not restored yet, in this process."""
        todo = [
            (annotation, engine, params)
            for annotation, engine, params in plan
            if _latest(annotation, engine) is None
        ]
        bar = tqdm(
            todo,
            desc="Demo restorations",
            unit="job",
            file=options.get("stderr") or sys.stderr,
            disable=options["verbosity"] == 0,
        )
        for annotation, engine, params in bar:
            job = restoration_services.job_create(
                requested_by=curator,
                annotation=annotation,
                engine=engine,
                params=params,
                queue=False,
            )
            restoration_services.job_run(job_id=job.pk)
            job.refresh_from_db()
            if job.status != RestorationJob.Status.SUCCEEDED:
                raise CommandError(f"The {engine} job {job.pk} ended {job.status}: {job.error}")
        bar.close()
        return len(todo)

    def _stylize(self, motifs, curator: User) -> int:
        """Render each demo photograph not stylized yet with each of STYLE_ENGINES, in this
        process; nothing by an engine that is not configured or has no registered weights."""
        photos = [motif for motif in motifs if motif.kind == Motif.Kind.PHOTOGRAPH]
        todo = [
            (photo, engine)
            for engine in STYLE_ENGINES
            if _usable_style_engine(engine)
            for photo in photos
            if _stylized(photo, engine) is None
        ]
        for photo, engine in todo:
            job = restoration_services.style_job_create(
                requested_by=curator, motif=photo, engine=engine, queue=False
            )
            restoration_services.job_run(job_id=job.pk)
            job.refresh_from_db()
            if job.status != RestorationJob.Status.SUCCEEDED:
                raise CommandError(
                    f"The {engine} style transfer {job.pk} ended {job.status}: {job.error}"
                )
        return len(todo)

    def _exhibition(self, curator: User, works) -> str:
        if Exhibition.objects.filter(slug=EXHIBITION_SLUG).exists() or not works:
            return ""
        exhibition = exhibitions.exhibition_create(
            created_by=curator,
            title="Colours of the caves",
            slug=EXHIBITION_SLUG,
            summary="Generated Dunhuang-style panels and their digital restorations.",
            text=(
                "The panels in this demo exhibition are generated by the software itself, in "
                "the manner of Dunhuang murals from the Wei to the Late Tang.\n\n"
                "Their damage is generated too: cracks, flaking, losses, stains and salt, "
                "painted by the same program, which also records where it painted them. That "
                "record is each panel's damage mask; no one marked the damage by hand. A "
                "patch-based inpainting engine filled in the masked areas, borrowing texture "
                "from the intact paint around them. Slide across each work to compare, and "
                "outline what was reconstructed."
            ),
            credits="Panels generated procedurally by this project. Restorations by the demo "
            "curator.",
            licence="CC0 1.0 (generated by this project)",
        )
        for motif, annotation in works:
            restoration = _latest(annotation, "exemplar") or _latest(annotation, ENGINES[0])
            exhibitions.exhibition_entry_add(
                exhibition=exhibition,
                user=curator,
                motif=motif,
                restoration=restoration,
                caption=f"{motif.era}. Generated damage over {annotation.coverage:.0%} of the "
                "surface (its mask recorded by the generator), restored digitally.",
            )
        exhibitions.exhibition_publish(exhibition=exhibition, user=curator)
        return "a published exhibition"

    def _campaign(self, curator: User, works) -> str:
        if ReviewCampaign.objects.filter(title=CAMPAIGN_TITLE).exists() or not works:
            return ""
        expert = User.objects.filter(username="expert", role=User.Role.EXPERT).first()
        if expert is None:
            return ""
        restorations = [
            restoration
            for _, annotation in works
            for engine in (*ENGINES, LEARNED)
            if (restoration := _latest(annotation, engine)) is not None
        ]
        reviews.campaign_create(
            created_by=curator,
            title=CAMPAIGN_TITLE,
            instructions=(
                "Score each result against the damaged photograph beside it. The engine is "
                "hidden; judge only what you see."
            ),
            reference=ReviewCampaign.Reference.DAMAGED,
            restorations=restorations,
            experts=[expert],
            open_now=True,
        )
        return "an open review campaign for the demo expert"

    def _study(self, curator: User, works) -> str:
        if UserStudy.objects.filter(slug=STUDY_SLUG).exists() or not works:
            return ""
        restorations = [
            restoration
            for _, annotation in works
            for engine in (*ENGINES, "exemplar", LEARNED)
            if (restoration := _latest(annotation, engine)) is not None
        ]
        studies.study_create(
            created_by=curator,
            title="Which restoration would you show?",
            slug=STUDY_SLUG,
            question="Which image best fills the damaged areas in keeping with the painting?",
            description="Digital restorations of the same damaged panel are shown side "
            "by side, in a different order for everyone. Choose the one you find most "
            "convincing.",
            restorations=restorations,
            retire_after=200,
            attention_check=True,
            open_now=True,
        )
        return "an open public study"

    def _style(self, curator: User) -> str:
        """Exhibit and study the demo photographs' stylized images, once style jobs made some.

        The latest image per photograph and engine is used. The study needs two engines'
        images of a photograph (the demo has no real paintings to add: its artworks are
        generated); with one engine only, the image is exhibited without a study.
        """
        stylized = (
            Restoration.objects.filter(
                task=Task.STYLIZE,
                job__status=RestorationJob.Status.SUCCEEDED,
                job__motif__credit=DEMO_CREDIT,
            )
            .select_related("job__motif")
            .order_by("job__motif_id", "engine", "-created_at", "-id")
        )
        latest: dict[tuple[int, str], Restoration] = {}
        for result in stylized:
            latest.setdefault((result.job.motif_id, result.engine), result)
        if not latest:
            return ""
        engines_of: dict[int, int] = {}
        for photograph, _ in latest:
            engines_of[photograph] = engines_of.get(photograph, 0) + 1
        compared = [r for (p, _), r in latest.items() if engines_of[p] >= 2]
        made = style_showcase(
            curator=curator,
            stylized=compared or list(latest.values())[:1],
            exhibition=Exhibition.objects.filter(slug=EXHIBITION_SLUG).first(),
            with_study=bool(compared),
        )
        parts = []
        if made["entry"] is not None:
            parts.append("a stylized photograph in the exhibition")
        if made["study"] is not None:
            parts.append("an open style study")
        return " and ".join(parts)


def _cheapest(works, count: int):
    """The `count` works whose damage the learned engine covers with the fewest windows."""
    from heritage.services import annotation_read_mask
    from restoration.engines.prior_diffusion import DEFAULT_WINDOW
    from restoration.engines.windowing import windows

    def cost(work) -> int:
        return len(windows(annotation_read_mask(annotation=work[1]) > 127, DEFAULT_WINDOW))

    return sorted(works, key=cost)[:count]


def _usable_style_engine(engine: str) -> bool:
    """Configured, a style engine, and with registered weights."""
    try:
        return (
            engine in registry().names()
            and not engines_without_weights([engine])
            and registry().engine_class(engine).task == Task.STYLIZE
        )
    except EngineError:
        return False


def _stylized(motif: Motif, engine: str) -> Restoration | None:
    """The latest style transfer of `motif` by `engine`."""
    return (
        Restoration.objects.filter(job__motif=motif, task=Task.STYLIZE, engine=engine)
        .order_by("-created_at", "-id")
        .first()
    )


def _latest(annotation: DamageAnnotation, engine: str) -> Restoration | None:
    return (
        Restoration.objects.filter(job__annotation=annotation, engine=engine)
        .order_by("-created_at", "-id")
        .first()
    )
