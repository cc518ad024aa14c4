"""manage.py assignrole ROLE [--api ID | --client ID] [--user U …] [--group G …]: who has a role."""

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from oidc_provider.apis import api_find, role_save, role_settings
from oidc_provider.models import Client, Role

from .createclient import error_messages


class Command(BaseCommand):
    help = (
        "Give a role to users and groups (or take it with --remove). The role is the API's "
        "(--api), the client's (--client) or, with neither, a global one; --create makes it first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role")
        owner = parser.add_mutually_exclusive_group()
        owner.add_argument("--api", metavar="IDENTIFIER")
        owner.add_argument("--client", metavar="CLIENT_ID")
        parser.add_argument("--user", action="append", default=[], dest="users", metavar="USERNAME")
        parser.add_argument("--group", action="append", default=[], dest="groups", metavar="GROUP")
        parser.add_argument("--remove", action="store_true", help="take the role from them instead")
        parser.add_argument("--create", action="store_true", help="create the role if it does not exist")
        parser.add_argument("--description", help="the role's description (with --create, or to change it)")
        parser.add_argument("--json", action="store_true", help="print the role as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        api = client = None
        if options["api"]:
            api = api_find(options["api"])
            if api is None:
                raise CommandError(f"No API is registered as {options['api']!r}.")
        if options["client"]:
            client = Client.objects.filter(client_id=options["client"]).first()
            if client is None:
                raise CommandError(f"No client has the id {options['client']!r}.")
        role = Role.objects.filter(name=options["role"], api=api, client=client).first()
        if role is None:
            if not options["create"]:
                raise CommandError(f"No role {options['role']!r} here; add --create to make it.")
            role = Role(name=options["role"], api=api, client=client)
        if options["description"] is not None:
            role.description = options["description"]
        users_model = get_user_model()
        users = list(users_model.objects.filter(username__in=options["users"]))
        missing = set(options["users"]) - {user.get_username() for user in users}
        if missing:
            raise CommandError(f"No such user: {', '.join(sorted(missing))}.")
        groups = list(Group.objects.filter(name__in=options["groups"]))
        missing = set(options["groups"]) - {group.name for group in groups}
        if missing:
            raise CommandError(f"No such group: {', '.join(sorted(missing))}.")
        add_users, add_groups = ([], []) if options["remove"] else (users, groups)
        remove_users, remove_groups = (users, groups) if options["remove"] else ([], [])
        try:
            # One transaction (role_save's own): a refused role leaves nothing written.
            role_save(
                role=role,
                add_users=add_users,
                add_groups=add_groups,
                remove_users=remove_users,
                remove_groups=remove_groups,
                actor_label="assignrole command",
            )
        except ValidationError as error:
            raise CommandError("; ".join(error_messages(error))) from error
        settings = role_settings(role)
        if options["json"]:
            self.stdout.write(json.dumps(settings, indent=2))
            return
        self.stdout.write(
            f"{role}: users {' '.join(settings['users']) or '(none)'}; "
            f"groups {' '.join(settings['groups']) or '(none)'}."
        )
