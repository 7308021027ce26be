# The job's last dispatch to the broker, so a sweep can send again the message of a pending job.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restoration", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="restorationjob",
            name="dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="restorationjob",
            name="dispatches",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
