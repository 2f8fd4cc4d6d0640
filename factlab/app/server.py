"""The app's web server: routes for the five steps, and :func:`serve`, what ``factlab app`` runs.

One steward, one browser, one run: the app keeps its state (:class:`AppState`) in memory, behind
a lock. Each route reads the form, calls the step's library function (:mod:`factlab.app.flow`,
:mod:`factlab.app.delivery`) in a worker thread, and answers with a page; a problem is shown in
the page (:mod:`factlab.app.problems`) and changes nothing. The server listens on 127.0.0.1 only,
on a port the system picks, and keeps no access log: a request line could carry a token.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import webbrowser
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Final

import polars as pl
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from factlab.app import pages
from factlab.app.delivery import Delivery, delivery_paths
from factlab.app.flow import (
    APP_FORM,
    KeyChoice,
    build_mapping,
    choose_blind,
    choose_export,
    choose_keys,
    initial_choice,
    mapping_document,
    run_preview,
    unmet_required,
)
from factlab.app.launch import write_launch_page
from factlab.app.layout import Lang, field_name, page
from factlab.app.mapping_page import mapping_body
from factlab.app.preview_page import preview_body
from factlab.app.problems import Problem, explain
from factlab.app.security import Guard, Secrets
from factlab.app.settings import last_choice, last_key, last_service_config, read_settings
from factlab.app.state import (
    AppState,
    choice_from_form,
    default_folder,
    fields_twice,
    is_private,
    remember_choice,
    saved_mapping,
    uploads_folder,
)
from factlab.app.upload import UploadRefused, receive_upload
from factlab.errors import InputError
from factlab.steward.bsn import looks_like_bsn

__all__ = ["create_app", "serve"]

_LANG_COOKIE: Final = "factlab_lang"
_STATIC: Final = {"app.css": "text/css", "app.js": "text/javascript"}
_MAX_FORM_FIELDS: Final = 5000


def _lang(request: Request) -> Lang:
    return Lang(request.cookies.get(_LANG_COOKIE, "nl"))


def _reads_as_bsn(text: str) -> bool:
    """Whether a typed value reads as a BSN (the rule :func:`check_provider` refuses by)."""
    return bool(pl.select(looks_like_bsn(pl.lit(text, dtype=pl.String))).item())


def create_app(secrets_: Secrets, state: AppState) -> Guard:
    """The application behind its guard (:class:`~factlab.app.security.Guard`)."""

    def render(
        request: Request,
        current: str,
        title: tuple[str, str],
        body: str,
        *,
        problems: tuple[Problem, ...] = (),
        status: int = 200,
        refresh: int | None = None,
    ) -> HTMLResponse:
        lang = _lang(request)
        html = page(
            title=lang(*title),
            body=body,
            lang=lang,
            csrf=secrets_.csrf,
            current=current,
            reached=state.reached(),
            problems=problems,
            refresh=refresh,
        )
        return HTMLResponse(html, status_code=status)

    async def form_of(request: Request) -> dict[str, Any] | None:
        """The form, if its CSRF token is the session's (None: refused)."""
        form = await request.form(max_files=1, max_fields=_MAX_FORM_FIELDS)
        if not secrets_.csrf_ok(form.get("csrf")):
            await form.close()
            return None
        return dict(form)

    def refused(request: Request) -> Response:
        lang = _lang(request)
        return Response(lang("Verzoek geweigerd.", "Request refused."), status_code=403)

    def busy() -> Response | None:
        """While a delivery runs, nothing it was made from may change: back to its page."""
        if state.delivery is not None and state.delivery.running:
            return RedirectResponse("/delivery", status_code=303)
        return None

    # --- 1. keys -------------------------------------------------------------------------

    def keys_page(
        request: Request,
        problems: tuple[Problem, ...] = (),
        status: int = 200,
        defaults: dict[str, str] | None = None,
    ) -> HTMLResponse:
        if defaults is None:
            keys = state.keys
            blind = (
                keys.blind is not None
                if keys
                else (not state.key_default and last_choice() == "blind")
            )
            key_path = keys.key_path if keys and not blind else state.key_default or last_key()
            services = keys.key_path if keys and blind else last_service_config()
            chosen = services if blind else key_path
            settings = read_settings(chosen) if chosen else None
            defaults = {
                "source": "blind" if blind else "key",
                "key": str(key_path or ""),
                "services": str(services or ""),
                "recipient": (settings.recipient if settings else None) or "",
                "provider": (settings.provider if settings else None) or "",
            }
            if keys is not None:
                defaults["recipient"] = str(keys.recipient_path)
                defaults["provider"] = keys.provider
        body = pages.keys_body(_lang(request), secrets_.csrf, state.keys, defaults)
        return render(
            request, "/keys", ("Sleutels", "Keys"), body, problems=problems, status=status
        )

    async def keys_get(request: Request) -> Response:
        return keys_page(request)

    async def keys_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        if (waiting := busy()) is not None:
            return waiting
        key_path = str(form.get("key", "")).strip().strip('"')
        services = str(form.get("services", "")).strip().strip('"')
        # a service configuration filled in without a key file: the steward meant a blind round
        blind = form.get("source") == "blind" or (not key_path and bool(services))
        recipient = str(form.get("recipient", "")).strip()
        provider = str(form.get("provider", "")).strip()
        passphrase = str(form.get("passphrase", ""))
        defaults = {
            "source": "blind" if blind else "key",
            "key": key_path,
            "services": services,
            "recipient": recipient,
            "provider": provider,
        }
        chosen = services if blind else key_path
        if chosen and (not recipient or not provider):  # remembered beside the file
            settings = read_settings(chosen)
            recipient = recipient or settings.recipient or ""
            provider = provider or settings.provider or ""
        lang = _lang(request)
        if not chosen or not recipient or not provider:
            missing = Problem(
                lang("Vul alle velden in.", "Fill in every field."),
                lang(
                    "De app heeft de serviceconfiguratie van de ronde, de publieke sleutel van "
                    "de vertrouwde partij en uw code als aanbieder nodig.",
                    "The app needs the round's service configuration, the trusted party's "
                    "public key and your provider code.",
                )
                if blind
                else lang(
                    "De app heeft uw sleutelbestand, de publieke sleutel van de vertrouwde "
                    "partij en uw code als aanbieder nodig.",
                    "The app needs your key file, the trusted party's public key and your "
                    "provider code.",
                ),
            )
            return keys_page(request, (missing,), 400, defaults)
        try:
            if blind:  # reads the token files; asks no key service
                keys = await run_in_threadpool(choose_blind, services, recipient, provider)
            else:
                keys = await run_in_threadpool(
                    choose_keys, key_path, recipient, provider, passphrase
                )
        except Exception as error:
            if _reads_as_bsn(provider):  # refused for it: never sent back into the page
                defaults["provider"] = ""
            return keys_page(request, (explain(error, lang.code),), 400, defaults)
        finally:
            del passphrase
        with state.lock:
            before = state.keys
            if before is not None and _identity(before) != _identity(keys):
                state.forget_export()  # another round or contract: propose again
            state.keys, state.preview, state.delivery = keys, None, None
        await run_in_threadpool(remember_choice, keys)
        return RedirectResponse("/keys", status_code=303)

    # --- 2. export -----------------------------------------------------------------------

    def export_page(
        request: Request, problems: tuple[Problem, ...] = (), status: int = 200, path: str = ""
    ) -> Response:
        if state.keys is None:
            return RedirectResponse("/keys", status_code=303)
        if not path and state.export is not None and not is_private(state, state.export.path):
            path = str(state.export.path)
        body = pages.export_body(_lang(request), secrets_.csrf, path)
        return render(
            request,
            "/export",
            ("Export kiezen", "Choose the export"),
            body,
            problems=problems,
            status=status,
        )

    async def export_get(request: Request) -> Response:
        return export_page(request)

    async def use_export(request: Request, path: Path, name: str, typed: str) -> Response:
        keys = state.keys
        if keys is None:
            if is_private(state, path):  # an upload is not kept without keys
                shutil.rmtree(path.parent, ignore_errors=True)
            return RedirectResponse("/keys", status_code=303)
        lang = _lang(request)
        try:
            export = await run_in_threadpool(choose_export, path, keys, name=name)
            saved = await run_in_threadpool(saved_mapping, keys)
        except Exception as error:
            if is_private(state, path):  # this upload only; an earlier export stays
                shutil.rmtree(path.parent, ignore_errors=True)
            return export_page(request, (explain(error, lang.code),), 400, typed)
        with state.lock:
            earlier = state.export
            if earlier is not None and earlier.path != path and is_private(state, earlier.path):
                shutil.rmtree(earlier.path.parent, ignore_errors=True)
            state.export, state.preview, state.delivery = export, None, None
            state.choice = initial_choice(export, saved)
        return RedirectResponse("/mapping", status_code=303)

    async def export_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        if (waiting := busy()) is not None:
            return waiting
        typed = str(form.get("path", "")).strip().strip('"')
        if not typed:
            lang = _lang(request)
            empty = Problem(
                lang("Vul het pad van de export in.", "Fill in the export's path."),
                lang("Of sleep het bestand in het vak.", "Or drop the file into the box."),
            )
            return export_page(request, (empty,), 400)
        path = Path(typed).expanduser()
        return await use_export(request, path, path.name, typed)

    async def upload_post(request: Request) -> Response:
        if (waiting := busy()) is not None:
            return waiting
        if state.keys is None:  # nothing is kept of an upload before the keys are chosen
            return RedirectResponse("/keys", status_code=303)
        # read as it arrives into the private folder (never the system's temporary folder);
        # every way out but a chosen export removes the folder
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads_folder(state)))
        try:
            received = await receive_upload(request, folder)
        except UploadRefused:
            shutil.rmtree(folder, ignore_errors=True)
            return refused(request)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if not secrets_.csrf_ok(received.fields.get("csrf")):
            shutil.rmtree(folder, ignore_errors=True)
            return refused(request)
        if received.path is None:
            shutil.rmtree(folder, ignore_errors=True)
            lang = _lang(request)
            empty = Problem(
                lang("Er is geen bestand gekozen.", "No file was chosen."),
                lang(
                    "Sleep de export in het vak of kies hem.",
                    "Drop the export into the box or choose it.",
                ),
            )
            return export_page(request, (empty,), 400)
        return await use_export(request, received.path, received.filename, "")

    # --- 3. mapping ----------------------------------------------------------------------

    def mapping_page(
        request: Request, problems: tuple[Problem, ...] = (), status: int = 200
    ) -> Response:
        if state.keys is None or state.export is None or state.choice is None:
            return RedirectResponse("/export" if state.keys else "/keys", status_code=303)
        unmet = unmet_required(state.choice, state.keys)
        body = mapping_body(
            _lang(request), secrets_.csrf, state.export, state.keys, state.choice, unmet
        )
        return render(
            request,
            "/mapping",
            ("Mapping controleren", "Check the mapping"),
            body,
            problems=problems,
            status=status,
        )

    async def mapping_get(request: Request) -> Response:
        return mapping_page(request)

    async def mapping_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        if (waiting := busy()) is not None:
            return waiting
        keys, export = state.keys, state.export
        if keys is None or export is None or state.choice is None:
            return RedirectResponse("/keys", status_code=303)
        choice = choice_from_form(form, export, state.choice)
        with state.lock:
            state.choice, state.preview = choice, None
        lang = _lang(request)
        unmet = unmet_required(choice, keys)
        twice = fields_twice(choice)
        problems: list[Problem] = []
        if unmet:
            names = ", ".join(field_name(name, lang) for name in unmet)
            problems.append(
                Problem(
                    lang(
                        f"Verplichte velden zonder kolom: {names}.",
                        f"Required fields without a column: {names}.",
                    ),
                    lang(
                        "Kies voor elk verplicht veld een kolom; pas dan kunt u verder.",
                        "Choose a column for every required field; only then can you go on.",
                    ),
                )
            )
        if twice:
            names = ", ".join(field_name(name, lang) for name in twice)
            problems.append(
                Problem(
                    lang(
                        f"Voor dit veld is meer dan één kolom gekozen: {names}.",
                        f"More than one column is chosen for: {names}.",
                    ),
                    lang("Kies per veld één kolom.", "Choose one column for each field."),
                )
            )
        if problems or form.get("action") != "preview":
            return mapping_page(request, tuple(problems), 400 if problems else 200)
        try:
            # made in the page: the file it is saved to after the delivery is another fact
            mapping = build_mapping(choice, export, source=APP_FORM)
            document = mapping_document(choice, export)
            folder = state.folder or default_folder(state)
            out = delivery_paths(Path(folder), keys.provider)[0]
            shown = await run_in_threadpool(
                run_preview, export, keys, mapping, out=out if out.parent.is_dir() else None
            )
        except Exception as error:
            return mapping_page(request, (explain(error, lang.code),), 400)
        with state.lock:
            state.mapping, state.document, state.preview, state.folder = (
                mapping,
                document,
                shown,
                folder,
            )
        return RedirectResponse("/preview", status_code=303)

    # --- 4. preview ----------------------------------------------------------------------

    def preview_page(
        request: Request, problems: tuple[Problem, ...] = (), status: int = 200
    ) -> Response:
        if state.preview is None or state.export is None:
            return RedirectResponse("/mapping" if state.export else "/keys", status_code=303)
        body = preview_body(
            _lang(request),
            secrets_.csrf,
            state.preview,
            state.export,
            state.folder,
            blind=state.keys.blind if state.keys is not None else None,
        )
        return render(
            request, "/preview", ("Proefdraai", "Preview"), body, problems=problems, status=status
        )

    async def preview_get(request: Request) -> Response:
        return preview_page(request)

    async def deliver_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        keys, export = state.keys, state.export
        if keys is None or export is None or state.mapping is None or state.preview is None:
            return RedirectResponse("/keys", status_code=303)
        if (waiting := busy()) is not None:
            return waiting
        folder = str(form.get("folder", "")).strip().strip('"')
        with state.lock:
            state.folder = folder
        lang = _lang(request)
        if state.preview.would_be_refused:
            refusal = explain(InputError("the round's contract refuses this file"), lang.code)
            return preview_page(request, (refusal,), 400)
        target = Path(folder).expanduser()
        if not folder or not target.is_dir():
            missing = explain(InputError(f"{folder}: the output folder does not exist"), lang.code)
            return preview_page(request, (missing,), 400)
        delivery = Delivery(export, keys, state.mapping, state.document or {}, target)
        with state.lock:
            state.delivery = delivery
        delivery.start()
        return RedirectResponse("/delivery", status_code=303)

    # --- 5. delivery ---------------------------------------------------------------------

    async def delivery_get(request: Request) -> Response:
        delivery = state.delivery
        if delivery is None:
            return RedirectResponse("/preview", status_code=303)
        lang = _lang(request)
        if delivery.error is not None:
            problem = explain(delivery.error, lang.code)
            return render(
                request,
                "/delivery",
                ("Levering", "Delivery"),
                "<p><a href='/preview'>"
                + lang("Terug naar de proefdraai", "Back to the preview")
                + "</a></p>",
                problems=(problem,),
                status=400,
            )
        running = delivery.running and delivery.result is None
        body = pages.delivery_body(lang, secrets_.csrf, delivery)
        if delivery.result is not None:
            state.drop_upload()
        return render(
            request, "/delivery", ("Levering", "Delivery"), body, refresh=2 if running else None
        )

    async def progress_get(request: Request) -> Response:
        delivery = state.delivery
        if delivery is None:
            return JSONResponse({"state": "none"})
        status = delivery.status()
        status["label"] = pages.status_label(status, _lang(request))
        return JSONResponse(status)

    async def restart_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        if (waiting := busy()) is not None:
            return waiting
        with state.lock:
            state.forget_export()
        return RedirectResponse("/export", status_code=303)

    # --- language, static files, start ----------------------------------------------------

    async def lang_post(request: Request) -> Response:
        form = await form_of(request)
        if form is None:
            return refused(request)
        chosen = "en" if form.get("lang") == "en" else "nl"
        target = str(form.get("next", "/"))
        known = {"/keys", "/export", "/mapping", "/preview", "/delivery"}
        response = RedirectResponse(target if target in known else "/", status_code=303)
        response.set_cookie(_LANG_COOKIE, chosen, httponly=True, samesite="strict")
        return response

    async def static_get(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response("", status_code=404)
        data = resources.files("factlab.app").joinpath("static", name).read_bytes()
        return Response(data, media_type=_STATIC[name])

    async def home(request: Request) -> Response:
        steps = state.reached()
        return RedirectResponse(steps[-1] if len(steps) > 1 else "/keys", status_code=303)

    routes = [
        Route("/", home),
        Route("/keys", keys_get, methods=["GET"]),
        Route("/keys", keys_post, methods=["POST"]),
        Route("/export", export_get, methods=["GET"]),
        Route("/export", export_post, methods=["POST"]),
        Route("/upload", upload_post, methods=["POST"]),
        Route("/mapping", mapping_get, methods=["GET"]),
        Route("/mapping", mapping_post, methods=["POST"]),
        Route("/preview", preview_get, methods=["GET"]),
        Route("/deliver", deliver_post, methods=["POST"]),
        Route("/delivery", delivery_get, methods=["GET"]),
        Route("/progress", progress_get, methods=["GET"]),
        Route("/restart", restart_post, methods=["POST"]),
        Route("/lang", lang_post, methods=["POST"]),
        Route("/static/{name}", static_get, methods=["GET"]),
    ]
    return Guard(Starlette(routes=routes), secrets_)


def _identity(keys: KeyChoice) -> tuple[str, str | None, str]:
    """What the proposal and the preview depend on: the key, the contract, the provider."""
    contract = keys.contract.sha256 if keys.contract is not None else None
    return keys.key.fingerprint, contract, keys.provider


def free_socket() -> socket.socket:
    """A socket bound to 127.0.0.1 on a port the system picks (never another address)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # before the address is printed: a browser that is quick waits, not fails
    return sock


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A private temporary folder (mode 0700) for uploads, removed when the app stops."""
    folder = Path(tempfile.mkdtemp(prefix="factlab-app-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def serve(
    *,
    open_browser: bool = True,
    key: str | None = None,
    announce: Callable[[str], None] = print,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the app until interrupted: listen on 127.0.0.1 at a free port, announce the address
    with its one-time token, and open the browser (unless ``open_browser`` is false).

    ``ready`` (tests) is called with the address once the server listens.
    """
    import uvicorn

    sock = free_socket()
    port = sock.getsockname()[1]
    secrets_ = Secrets(port=port)
    url = f"http://127.0.0.1:{port}/?token={secrets_.token}"
    with private_folder() as folder:
        state = AppState(private=folder, key_default=key)
        app = create_app(secrets_, state)
        # no access log (a request line may hold the token); warnings and errors only, and
        # every error of a route is caught and shown in the page before uvicorn could log it
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        announce(url)
        launch: Path | None = None
        if open_browser:
            try:
                launch = write_launch_page(url, port)
            except OSError:  # no data folder to write in: the printed address is the way in
                launch = None
            else:
                page = launch
                secrets_.on_spent = lambda: page.unlink(missing_ok=True)
                threading.Timer(0.5, webbrowser.open, args=(page.as_uri(),)).start()
        if ready is not None:
            threading.Timer(0.2, ready, args=(url,)).start()
        try:
            server.run(sockets=[sock])
        finally:
            if launch is not None:
                launch.unlink(missing_ok=True)
