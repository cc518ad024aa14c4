from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_empty_django_otp_plugin_tables"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="attributes",
            field=models.JSONField(blank=True, default=dict, verbose_name="other attributes"),
        ),
    ]
