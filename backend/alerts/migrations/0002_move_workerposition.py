# WorkerPosition now belongs to accounts (accounts 0003 takes over the same table).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0001_initial'),
        ('accounts', '0003_workerposition'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='WorkerPosition')],
            database_operations=[],
        ),
    ]
