"""Shared pieces of the `ape run` scripts: options and the sending account.

Scripts stay thin: they parse options with these and call into `xmargin`.
No private key is ever read from a file of ours: on a local network the
sender is one of the node's test accounts, elsewhere an Ape account alias
(`ape accounts import <alias>`), unlocked from the environment variable
`APE_ACCOUNTS_<alias>_PASSPHRASE` when it is set (CI, scripted testnet
deploys) or by prompting.
"""

from __future__ import annotations

import os
from typing import Any

import click

from xmargin.chain.connect import NetworkInfo

account_alias_option = click.option(
    "--account",
    "alias",
    default=None,
    help="Ape account alias that sends transactions (default on local networks: test account 0).",
)


def sending_account(accounts: Any, network: NetworkInfo, alias: str | None) -> Any:
    """The account to send from; raises click.UsageError with what to do."""
    if alias is None:
        if not network.is_local:
            raise click.UsageError(
                f"{network.label} is not a local network: pass --account <alias> "
                "(an account imported with `ape accounts import <alias>`)"
            )
        return accounts.test_accounts[0]
    try:
        account = accounts.load(alias)
    except (KeyError, ValueError) as err:
        raise click.UsageError(
            f"no Ape account '{alias}' (import one with `ape accounts import {alias}`)"
        ) from err
    passphrase = os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE")
    if passphrase is not None and hasattr(account, "set_autosign"):
        # Non-interactive: sign without a per-transaction prompt.
        account.set_autosign(True, passphrase=passphrase)
    return account
