from django.db import migrations, models

import oidc_provider.models


class Migration(migrations.Migration):
    dependencies = [
        ("oidc_provider", "0018_client_configuration"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="response_types",
            field=models.JSONField(
                blank=True,
                default=oidc_provider.models.default_response_types,
                help_text="code, and any implicit or hybrid response types this app may use",
                verbose_name="response types",
            ),
        ),
    ]
