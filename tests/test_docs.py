"""The examples in the docs are executed: every ```python block of README.md and docs/*.md.

Each page runs its blocks in order in one namespace (a page may define ``sf`` in one block
and use it in the next) against a fresh, seeded ``LocalOrg`` (the emulator), reached through
respx: https://acme.my.salesforce.com and the token endpoint of https://login.salesforce.com.
Blocks may use top-level ``await``, ``async with`` and ``async for``. A block fenced as
```` ```python skip ```` is shown but not run. A block that starts its own event loop
(``asyncio.run``, ``anyio.run``, ``trio.run``) runs in a worker thread, as it would in a script.

The namespace starts with what a reader would have at hand: ``client_id``, ``client_secret``,
``username`` and ``password`` placeholders. The org holds Accounts Acme, Globex and Initech and
five Contacts (see ``seeded_org``), plus the external id fields the examples use.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import respx

from sobjects.emulator import LocalOrg

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INSTANCE_HOST = "acme.my.salesforce.com"
LOGIN_HOST = "login.salesforce.com"
READER_NAMESPACE = {
    "client_id": "3MVG9example",
    "client_secret": "example-secret",
    "username": "integration@acme.example",
    "password": "example-password",
}

_OPEN_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


@dataclass(frozen=True)
class Block:
    index: int  # 1-based position among the page's python blocks
    line: int  # line number of the first line of code in the page
    source: str

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.source.splitlines() if line.strip()), "")


def python_blocks(text: str) -> list[Block]:
    """The runnable ```python blocks of a Markdown text (not ```python skip, not others)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _OPEN_FENCE.match(lines[i])
        i += 1
        if not opening:
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].split()
        start, body = i, []
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        while i < len(lines) and not closing.match(lines[i]):
            body.append(lines[i].removeprefix(indent))
            i += 1
        i += 1  # the closing fence (or the end of an unclosed block)
        if info[:1] == ["python"] and "skip" not in info[1:]:
            blocks.append(Block(len(blocks) + 1, start + 1, "\n".join(body) + "\n"))
    return blocks


def _starts_event_loop(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("asyncio", "anyio", "trio")
        for node in ast.walk(tree)
    )


async def run_block(block: Block, filename: str, namespace: dict[str, Any]) -> None:
    # Blank lines in front keep line numbers in tracebacks equal to the page's own.
    source = "\n" * (block.line - 1) + block.source
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    code = compile(source, filename, "exec", flags=flags, dont_inherit=True)
    function = types.FunctionType(code, namespace)
    if _starts_event_loop(ast.parse(source)):
        await anyio.to_thread.run_sync(function)
        return
    result = function()
    if inspect.iscoroutine(result):
        await result


def seeded_org() -> LocalOrg:
    """Accounts Acme, Globex, Initech (Industry set) and five Contacts: Jane and John Doe at
    Acme, Hank Scorpio at Globex, Peter Gibbons at Initech, Ada Lovelace with no account."""
    org = LocalOrg()
    org.define_field("Account", {"name": "Ext_Id__c", "type": "string", "externalId": True})
    org.define_field("Opportunity", {"name": "ExternalId__c", "type": "string", "externalId": True})
    accounts = org.schema.require("Account")
    contacts = org.schema.require("Contact")
    industries = {"Acme": "Manufacturing", "Globex": "Energy", "Initech": "Technology"}
    ids = {
        name: org.store.insert(accounts, {"Name": name, "Industry": industry})
        for name, industry in industries.items()
    }
    people = [
        ("Jane", "Doe", ids["Acme"]),
        ("John", "Doe", ids["Acme"]),
        ("Hank", "Scorpio", ids["Globex"]),
        ("Peter", "Gibbons", ids["Initech"]),
        ("Ada", "Lovelace", None),
    ]
    for first, last, account in people:
        email = f"{first}.{last}@example.com".lower()
        org.store.insert(
            contacts, {"FirstName": first, "LastName": last, "AccountId": account, "Email": email}
        )
    return org


def _forward_to(org: LocalOrg) -> Any:
    """A respx side effect that hands the request to the org's ASGI app."""
    transport = httpx.ASGITransport(app=org.app)

    async def forward(request: httpx.Request) -> httpx.Response:
        response = await transport.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    return forward


async def run_page(path: Path, text: str, org: LocalOrg) -> str:
    """Run every block of a page; returns the blocks' stdout, fails the test on an error."""
    # A real module, as a reader's script would be: pydantic resolves forward references
    # (``list["Contact"]``) through sys.modules[cls.__module__].
    module = types.ModuleType("__docs__")
    module.__dict__.update(READER_NAMESPACE)
    namespace: dict[str, Any] = module.__dict__
    stdout = io.StringIO()
    sys.modules["__docs__"] = module
    with contextlib.ExitStack() as cleanup, respx.mock(assert_all_called=False) as mock:
        cleanup.callback(sys.modules.pop, "__docs__", None)
        forward = _forward_to(org)
        mock.route(host=INSTANCE_HOST).mock(side_effect=forward)
        mock.route(host=LOGIN_HOST, path="/services/oauth2/token").mock(side_effect=forward)
        mock.route(host="127.0.0.1").pass_through()  # pages that serve an org of their own
        for block in python_blocks(text):
            failure = None
            try:
                with contextlib.redirect_stdout(stdout):
                    await run_block(block, str(path), namespace)
            except Exception as exc:
                failure = _failure(path, block, exc, stdout.getvalue())
            if failure is not None:  # outside the except: no "during handling" chain
                pytest.fail(failure, pytrace=False)
    return stdout.getvalue()


def _failure(path: Path, block: Block, exc: BaseException, stdout: str) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != str(path):
        tb = tb.tb_next  # start at the example's own frame, not the harness
    details = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return (
        f"{name}: python block {block.index} (line {block.line}: {block.first_line!r}) raised "
        f"{type(exc).__name__}: {exc}\n\n{details}\n"
        f"--- stdout of the page's blocks so far ---\n{stdout or '(none)'}"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
async def test_examples_run(page: Path) -> None:
    text = await anyio.Path(page).read_text(encoding="utf-8")
    output = await run_page(page, text, seeded_org())
    print(output, end="")


# -- the harness itself ---------------------------------------------------------------------


def test_python_blocks_are_found_and_skips_respected() -> None:
    text = (
        "Intro\n\n```python\nx = 1\n```\n\n```python skip\nraise SystemExit\n```\n\n"
        "```bash\nrm -rf /\n```\n\n- item\n\n  ````python\n  y = x + 1\n  ````\n"
    )
    blocks = python_blocks(text)
    assert [(b.index, b.line, b.source) for b in blocks] == [
        (1, 4, "x = 1\n"),
        (2, 18, "y = x + 1\n"),
    ]


@pytest.mark.anyio
async def test_a_failing_example_names_page_block_and_output(tmp_path: Path) -> None:
    page = tmp_path / "guide.md"
    text = (
        "```python\nfrom sobjects import Salesforce\nfrom sobjects.auth import ClientCredentials\n"
        "sf = Salesforce('https://acme.my.salesforce.com',\n"
        "                auth=ClientCredentials(client_id, client_secret))\n```\n\n"
        "```python\nn = await sf.query('SELECT COUNT() FROM Contact').count()\n"
        "print('contacts:', n)\n```\n\n"
        "```python\nsoql = 'SELECT Name FROM Account WHERE X > 1'\n"
        "rows = [r async for r in sf.query(soql)]\n```\n"
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        await run_page(page, text, seeded_org())
    message = str(failed.value)
    assert "guide.md: python block 3 (line 14: \"soql = 'SELECT Name" in message
    assert "InvalidFieldError" in message and "contacts: 5" in message


@pytest.mark.anyio
async def test_a_block_may_start_its_own_event_loop() -> None:
    text = "```python\nimport asyncio\n\nasync def main():\n    print('ran')\n\n"
    text += "asyncio.run(main())\n```\n"
    assert await run_page(Path("script.md"), text, LocalOrg()) == "ran\n"
