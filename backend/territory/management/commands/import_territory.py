"""manage.py import_territory FILE --community CODE: grids and households from GeoJSON."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.core.errors import MESSAGES, ApiError
from backend.territory.actions import do_import_geojson
from backend.territory.models import Community


def _both(code: str) -> str:
    zh, en = MESSAGES.get(code, (code, code))
    return f"{en} / {zh}"


class Command(BaseCommand):
    help = (
        "Import a GeoJSON FeatureCollection (WGS84) into a community: Polygon/MultiPolygon "
        'features with {"kind": "grid", "code", "name"} and Point features with '
        '{"kind": "household", "address", "grid"?, "building"?}. All or nothing.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to the .geojson file")
        parser.add_argument("--community", required=True, help="code of the community")

    def handle(self, *args: Any, **options: Any) -> None:
        community = Community.objects.filter(code=options["community"]).first()
        if community is None:
            raise CommandError(f"No community with the code {options['community']!r}.")
        try:
            result = do_import_geojson(path_or_file=options["file"], community=community)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc.strerror or exc}") from exc
        except ApiError as exc:
            lines = [_both(exc.code)]
            lines += [f"  {field}: {_both(reason)}" for field, reason in exc.fields.items()]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{community.code} {community.name}: {result.grids_created} grids, "
                f"{result.households_created} households, {result.buildings_created} new "
                f"buildings ({result.buildings_reused} existing reused)"
            )
        )
