"""Import a folder of photographs into the catalogue, exactly as uploads would be."""

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import capfirst
from tqdm import tqdm

from heritage import selectors, services
from heritage.models import User

METADATA_COLUMNS = ("title", "site", *(f for f in services.MOTIF_TEXT_FIELDS if f != "title"))


@dataclass(frozen=True)
class Refusal:
    path: str
    reason: str


def humanise(stem: str) -> str:
    """'mogao_285-north wall' -> 'Mogao 285 north wall'."""
    return capfirst(" ".join(stem.replace("_", " ").replace("-", " ").split()))


def error_text(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Import every file of DIR into the catalogue through the same checks as an upload "
        "(duplicates by sha256 and unreadable images are refused and reported)."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="folder holding the photographs")
        parser.add_argument(
            "--metadata",
            metavar="CSV",
            help="CSV with a 'filename' column and any of: " + ", ".join(METADATA_COLUMNS),
        )
        parser.add_argument("--site", help="site of files whose CSV row names none")
        parser.add_argument(
            "--user", help="curator recorded as uploader (default: first active curator)"
        )
        parser.add_argument("--recursive", action="store_true", help="descend into subfolders")

    def handle(self, *args, **options):
        root = Path(options["directory"]).expanduser()
        if not root.is_dir():
            raise CommandError(f"{root} is not a directory.")
        user = self._acting_user(options["user"])
        metadata_path = Path(options["metadata"]).expanduser() if options["metadata"] else None
        rows = self._read_metadata(metadata_path) if metadata_path else {}
        default_site = " ".join((options["site"] or "").split())
        if not default_site and not any(row.get("site") for row in rows.values()):
            raise CommandError("Name the site of the motifs with --site or a 'site' CSV column.")

        files = self._files(root, recursive=options["recursive"], skip=metadata_path)
        relative = [path.relative_to(root).as_posix() for path in files]
        matched: set[str] = set()
        imported: list = []
        refused: list[Refusal] = []
        bar = tqdm(
            zip(files, relative, strict=True),
            total=len(files),
            desc="Importing",
            unit="file",
            file=options.get("stderr") or sys.stderr,
            disable=options["verbosity"] == 0,
        )
        for path, name in bar:
            key = name if name in rows else path.name if path.name in rows else None
            row = rows.get(key, {}) if key else {}
            if key:
                matched.add(key)
            try:
                imported.append(self._import(path, name, row, default_site, user))
            except services.DuplicateMotif as exc:
                existing = exc.existing
                refused.append(
                    Refusal(name, f"already catalogued as motif {existing.pk} '{existing.title}'")
                )
            except ValidationError as exc:
                refused.append(Refusal(name, error_text(exc)))
            except OSError as exc:
                refused.append(Refusal(name, f"could not be read: {exc.strerror or exc}"))
        bar.close()
        self._report(imported, refused, [key for key in rows if key not in matched], options)

    def _acting_user(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"There is no user {username!r}.")
            if not user.is_curator:
                raise CommandError(f"{username} is not an active curator; only curators import.")
            return user
        user = selectors.user_first_curator()
        if user is None:
            raise CommandError(
                "No active curator or superuser to record as uploader; create one "
                "(manage.py createsuperuser) or pass --user."
            )
        return user

    def _read_metadata(self, path: Path) -> dict[str, dict[str, str]]:
        """Rows keyed by their filename; refuses the whole CSV before anything is imported."""
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = [name.strip().lower() for name in next(reader, [])]
                if "filename" not in header:
                    raise CommandError(f"{path} has no 'filename' column.")
                unknown = sorted(set(header) - {"filename", *METADATA_COLUMNS})
                if unknown:
                    raise CommandError(
                        f"{path} has unknown column(s): {', '.join(unknown)}; "
                        f"allowed: filename, {', '.join(METADATA_COLUMNS)}."
                    )
                if len(set(header)) != len(header):
                    raise CommandError(f"{path} names a column twice.")
                rows: dict[str, dict[str, str]] = {}
                for cells in reader:
                    if not any(cell.strip() for cell in cells):
                        continue
                    if len(cells) != len(header):
                        raise CommandError(
                            f"{path}, line {reader.line_num}: {len(cells)} cells, "
                            f"expected {len(header)}."
                        )
                    row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
                    filename = row.pop("filename").replace("\\", "/").strip("/")
                    if not filename:
                        raise CommandError(f"{path}, line {reader.line_num}: empty filename.")
                    if filename in rows:
                        raise CommandError(
                            f"{path}, line {reader.line_num}: {filename} is listed twice."
                        )
                    rows[filename] = row
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"Could not read {path}: {exc}") from exc
        return rows

    def _files(self, root: Path, *, recursive: bool, skip: Path | None) -> list[Path]:
        skip = skip.resolve() if skip else None
        found = []
        for path in sorted(root.rglob("*") if recursive else root.iterdir()):
            parts = path.relative_to(root).parts
            if any(part.startswith(".") for part in parts) or path.is_dir():
                continue
            if skip is not None and path.resolve() == skip:
                continue
            found.append(path)
        return found

    def _import(self, path: Path, name: str, row: dict[str, str], default_site: str, user):
        site_name = row.get("site") or default_site
        if not site_name:
            raise ValidationError("no site: add it to the CSV row or pass --site.")
        fields = {field: row.get(field, "") for field in services.MOTIF_TEXT_FIELDS}
        fields["title"] = fields["title"] or humanise(path.stem)
        # One transaction per file: a refused file leaves no new site behind.
        with transaction.atomic(), path.open("rb") as handle:
            site = services.site_get_or_create(name=site_name)
            return services.motif_create(
                uploaded_by=user, file=handle, filename=path.name, site=site, **fields
            )

    def _report(self, imported, refused: list[Refusal], unmatched: list[str], options) -> None:
        if options["verbosity"] >= 2:
            for motif in imported:
                self.stdout.write(f"  imported  {motif.original_filename} as motif {motif.pk}")
        summary = f"{len(imported)} imported, {len(refused)} refused."
        self.stdout.write(self.style.SUCCESS(summary) if not refused else summary)
        for refusal in refused:
            self.stdout.write(self.style.WARNING(f"  refused  {refusal.path}: {refusal.reason}"))
        for filename in unmatched:
            self.stdout.write(
                self.style.WARNING(f"  CSV row  {filename}: no such file in the folder")
            )
