# A worker's position moves from alerts to accounts (staff data): state only, the table stays.

import django.contrib.gis.db.models.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_alter_dutyshift_community_websocketticket'),
        ('alerts', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WorkerPosition',
                    fields=[
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to=settings.AUTH_USER_MODEL)),
                        ('location', django.contrib.gis.db.models.fields.PointField(geography=True, srid=4326)),
                        ('accuracy_m', models.FloatField(blank=True, null=True)),
                        ('at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'alerts_workerposition',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
