"""Loads the sample catalog (backend/servicedesk/sample_catalog.py) and the Chinese public
holidays and make-up working days known to the chinese-calendar package."""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from backend.servicedesk.sample_catalog import DEPARTMENTS, rows

    Department = apps.get_model("servicedesk", "Department")
    ServiceItem = apps.get_model("servicedesk", "ServiceItem")
    departments = {}
    for d in DEPARTMENTS:
        departments[d["code"]], _ = Department.objects.get_or_create(
            code=d["code"], defaults={"name_zh": d["name_zh"], "name_en": d["name_en"]}
        )
    for row in rows():
        row = dict(row)
        department_code = row.pop("department_code")
        row["department"] = departments[department_code] if department_code else None
        ServiceItem.objects.get_or_create(code=row["code"], defaults=row)


def load_holidays(apps, schema_editor):
    from backend.servicedesk.public_holidays import calendar_rows

    CalendarDay = apps.get_model("servicedesk", "CalendarDay")
    for day, is_workday, name in calendar_rows():
        CalendarDay.objects.get_or_create(date=day, defaults={"is_workday": is_workday, "name": name})


class Migration(migrations.Migration):
    dependencies = [("servicedesk", "0001_initial")]

    operations = [
        migrations.RunPython(load_catalog, migrations.RunPython.noop),
        migrations.RunPython(load_holidays, migrations.RunPython.noop),
    ]
