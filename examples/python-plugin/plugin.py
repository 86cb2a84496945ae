"""shammie-plugin-pyclassifier: a Shammie plugin written in Python.

It trains a small PyTorch classifier (an MLP on two interleaved spirals it
generates from the step's seed) and reports progress, a loss metric per
epoch, outputs (accuracy, final loss) and artifacts (the weights and a JSON
summary), like any Go plugin. It speaks go-plugin's protocol for non-Go
plugins directly: the handshake line on stdout, gRPC over TLS with the
host's client certificate (AutoMTLS), the gRPC health service, go-plugin's
controller (Shutdown) and stdio services, and the Shammie service generated
from sdk/proto (gen/, `make python-plugin-proto` regenerates it).

Run it through `shammie`, never by hand: without the host's magic cookie it
says so and exits.
"""

import base64
import datetime
import hashlib
import json
import math
import os
import queue
import signal
import sys
import threading
import time
import traceback
from concurrent import futures

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "gen"))

import grpc  # noqa: E402  (Debian: python3-grpcio)
from cryptography import x509  # noqa: E402  (python3-cryptography)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402
from shammie.plugin.v1 import plugin_pb2 as pb  # noqa: E402  (python3-protobuf)

NAME = "pyclassifier"
VERSION = open(os.path.join(HERE, "VERSION")).read().strip()
PROTOCOL_VERSION = 1  # shammie.plugin.v1
CORE_PROTOCOL_VERSION = 1  # go-plugin's own
MAGIC_COOKIE = ("SHAMMIE_PLUGIN", "7f3b1c9e5a2d48e0b6c4a1f8d2e9c7b3")
SERVICE = "shammie.plugin.v1.Plugin"

# The config: name -> (cty type, default, description). Every attribute has
# a default, so the config block may be empty.
CONFIG = {
    "samples": ("number", 600, "Generated examples (two spirals, 2-D), a quarter held out."),
    "hidden": ("number", 32, "Width of the MLP's two hidden layers."),
    "epochs": ("number", 300, "Full-batch Adam epochs."),
    "lr": ("number", 0.02, "Adam learning rate."),
    "noise": ("number", 0.1, "Gaussian noise added to the points."),
    "fail_at_epoch": ("number", -1, "Raise an exception at this epoch (shows how a crash is reported); -1: never."),
    "started_file": ("string", "", "File touched when training starts (for scripts that wait on the step); empty: none."),
}
OUTPUTS = {
    "accuracy": ("number", "Accuracy on the held-out quarter."),
    "final_loss": ("number", "Training loss (cross-entropy) after the last epoch."),
}
ARTIFACTS = {
    "weights": ("application/octet-stream", "The trained model's state_dict (torch.save)."),
    "summary": ("application/json", "Settings, per-epoch losses and the held-out accuracy."),
}


def log(msg):
    """Debug lines go to stderr: the host keeps its tail for crash reports."""
    print(f"pyclassifier: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- values

def cty_value(type_name, v):
    return pb.Value(type_json=json.dumps(type_name).encode(), value_json=json.dumps(v).encode())


def decode_config(value):
    """Returns the config as a dict and the set of attributes whose value is
    not known yet (from steps that have not run)."""
    cfg = json.loads(value.value_json or b"null") or {}
    unknown = set()
    for path in value.unknowns:
        if path.steps and path.steps[0].WhichOneof("step") == "attribute":
            unknown.add(path.steps[0].attribute)
    return cfg, unknown


def diagnostic(attr, summary, detail=""):
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail,
                         path=[pb.PathStep(attribute=attr)] if attr else [])


def validate(cfg, unknown):
    """The checks the types cannot express; each skipped while the
    attribute it reads is unknown."""
    diags = []

    def check(ok, attr, summary, detail=""):
        if not ok and attr not in unknown:
            diags.append(diagnostic(attr, summary, detail))

    def num(attr):
        v = cfg.get(attr)
        return CONFIG[attr][1] if v is None else v

    check(num("samples") >= 40, "samples", "At least 40 samples are needed", f"Got {num('samples')}.")
    check(num("hidden") >= 2 and float(num("hidden")).is_integer(), "hidden", "The hidden width must be a whole number ≥ 2")
    check(num("epochs") >= 1 and float(num("epochs")).is_integer(), "epochs", "At least one epoch is needed")
    check(num("lr") > 0, "lr", "The learning rate must be positive")
    check(num("noise") >= 0, "noise", "The noise must not be negative")
    return diags


# ---------------------------------------------------------------- the job

def spirals(n, noise, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    per = n // 2
    t = torch.sqrt(torch.rand(per, generator=g)) * 3 * math.pi
    arms = []
    for k in (0, 1):
        a = t + k * math.pi
        pts = torch.stack([t * torch.cos(a), t * torch.sin(a)], dim=1) / (3 * math.pi)
        arms.append(pts + noise * torch.randn(per, 2, generator=g))
    x = torch.cat(arms)
    y = torch.cat([torch.zeros(per, dtype=torch.long), torch.ones(per, dtype=torch.long)])
    order = torch.randperm(2 * per, generator=g)
    return x[order], y[order]


def train(req, cfg, emit, cancelled):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(req.seed)
    get = lambda k: CONFIG[k][1] if cfg.get(k) is None else cfg[k]  # noqa: E731
    samples, hidden, epochs = int(get("samples")), int(get("hidden")), int(get("epochs"))
    x, y = spirals(samples, float(get("noise")), req.seed)
    n_test = samples // 4
    xt, yt, xs, ys = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    model = torch.nn.Sequential(
        torch.nn.Linear(2, hidden), torch.nn.Tanh(),
        torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
        torch.nn.Linear(hidden, 2))
    opt = torch.optim.Adam(model.parameters(), lr=float(get("lr")))
    if get("started_file"):
        open(get("started_file"), "w").close()
    losses = []
    for epoch in range(epochs):
        if cancelled.is_set():
            return None
        if epoch == int(get("fail_at_epoch")):
            raise RuntimeError(f"fail_at_epoch = {epoch}: failing as asked")
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        emit(pb.Event(metric=pb.Metric(name="loss", step=epoch, value=loss.item(), time_unix_nano=time.time_ns())))
        emit(pb.Event(progress=pb.Progress(stage="train", done=epoch + 1, total=epochs, unit="epochs")))
    with torch.no_grad():
        accuracy = (model(xs).argmax(dim=1) == ys).float().mean().item()
    return model, losses, accuracy


def announce(work_dir, name, rel):
    path = os.path.join(work_dir, rel)
    data = open(path, "rb").read()
    return pb.Event(artifact=pb.Artifact(name=name, path=rel, sha256=hashlib.sha256(data).hexdigest(),
                                         size=len(data), media_type=ARTIFACTS[name][0]))


# ---------------------------------------------------------------- the service

class Plugin:
    def __init__(self):
        self.lock = threading.Lock()
        self.runs = {}  # (run_id, step) -> threading.Event set on Stop

    def GetMetadata(self, request, context):
        return pb.Metadata(name=NAME, version=VERSION, protocol_versions=[PROTOCOL_VERSION], backends=["go"],
                           description="Example plugin in Python: a PyTorch MLP classifier on seeded two-spiral data")

    def GetSchema(self, request, context):
        attrs = [pb.Attribute(name=k, type_json=json.dumps(t).encode(), default=cty_value(t, d), description=doc)
                 for k, (t, d, doc) in CONFIG.items()]
        return pb.Schema(
            config=pb.Block(attributes=attrs),
            outputs=[pb.OutputDecl(name=k, type_json=json.dumps(t).encode(), description=doc) for k, (t, doc) in OUTPUTS.items()],
            artifacts=[pb.ArtifactDecl(name=k, media_type=m, description=doc) for k, (m, doc) in ARTIFACTS.items()])

    def ValidateConfig(self, request, context):
        cfg, unknown = decode_config(request.config)
        return pb.ValidateConfigResponse(diagnostics=validate(cfg, unknown))

    def Stop(self, request, context):
        with self.lock:
            for (run_id, step), ev in self.runs.items():
                if (not request.run_id and not request.step) or (run_id == request.run_id and step == request.step):
                    ev.set()
        return pb.StopResponse()

    def Run(self, request, context):
        cfg, unknown = decode_config(request.config)
        diags = validate(cfg, unknown)
        if unknown or diags:
            yield status(pb.Status.FAILED, "the config is not valid (or not known yet)", diags)
            return
        cancelled = threading.Event()
        key = (request.run_id, request.step)
        with self.lock:
            self.runs[key] = cancelled
        context.add_callback(cancelled.set)  # the host went away
        # Train in a thread; its events stream to the host as they come.
        events, outcome = queue.Queue(), {}

        def work():
            try:
                outcome["result"] = train(request, cfg, events.put, cancelled)
            except Exception as exc:  # a crash of the job
                outcome["error"] = (exc, traceback.format_exc())
            finally:
                events.put(None)

        threading.Thread(target=work, daemon=True).start()
        try:
            while (e := events.get()) is not None:
                e.time_unix_nano = time.time_ns()
                yield e
            if "error" in outcome:
                # The traceback goes to stderr (the host keeps its tail),
                # its last lines into the failure message.
                exc, tb = outcome["error"]
                sys.stderr.write(tb)
                sys.stderr.flush()
                tail = " | ".join(line.strip() for line in tb.strip().splitlines()[-3:])
                yield status(pb.Status.FAILED, f"{type(exc).__name__}: {exc} (Python traceback: {tail})")
            elif outcome["result"] is None:
                yield status(pb.Status.CANCELLED, "stopped by the host")
            else:
                yield from self.finish(request, cfg, outcome["result"])
        finally:
            with self.lock:
                self.runs.pop(key, None)

    def finish(self, request, cfg, result):
        import torch

        model, losses, accuracy = result
        torch.save(model.state_dict(), os.path.join(request.work_dir, "weights.pt"))
        yield announce(request.work_dir, "weights", "weights.pt")
        with open(os.path.join(request.work_dir, "summary.json"), "w") as f:
            json.dump({"config": cfg, "seed": request.seed, "losses": losses, "accuracy": accuracy}, f, indent=2)
        yield announce(request.work_dir, "summary", "summary.json")
        yield pb.Event(log=pb.Log(level=pb.Log.INFO, message=f"trained {len(losses)} epochs: loss {losses[-1]:.4f}, held-out accuracy {accuracy:.3f}"))
        yield pb.Event(output=pb.Output(name="accuracy", value=cty_value("number", accuracy)))
        yield pb.Event(output=pb.Output(name="final_loss", value=cty_value("number", losses[-1])))
        yield status(pb.Status.SUCCEEDED, "")


def status(state, message, diags=()):
    return pb.Event(time_unix_nano=time.time_ns(), status=pb.Status(state=state, message=message, diagnostics=list(diags)))


def handlers(impl):
    """The Shammie service, from the generated messages (no grpc codegen
    needed), plus what go-plugin's client expects of any plugin."""
    def unary(fn, req):
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req.FromString,
                                                   response_serializer=lambda m: m.SerializeToString())

    shammie = grpc.method_handlers_generic_handler(SERVICE, {
        "GetMetadata": unary(impl.GetMetadata, pb.GetMetadataRequest),
        "GetSchema": unary(impl.GetSchema, pb.GetSchemaRequest),
        "ValidateConfig": unary(impl.ValidateConfig, pb.ValidateConfigRequest),
        "Stop": unary(impl.Stop, pb.StopRequest),
        "Run": grpc.unary_stream_rpc_method_handler(impl.Run, request_deserializer=pb.RunRequest.FromString,
                                                    response_serializer=lambda m: m.SerializeToString()),
    })
    raw = dict(request_deserializer=lambda b: b, response_serializer=lambda b: b)
    # grpc.health.v1.Health/Check: HealthCheckResponse{status: SERVING} is
    # the two bytes of field 1 (varint) = 1, whatever service is asked.
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(lambda req, ctx: b"\x08\x01", **raw)})
    # plugin.GRPCController/Shutdown (Empty -> Empty): exit once answered.
    controller = grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": grpc.unary_unary_rpc_method_handler(lambda req, ctx: (shutdown.set(), b"")[1], **raw)})
    # plugin.GRPCStdio/StreamStdio: stdout and stderr go to the host's
    # stderr tail directly, so the stream stays open and empty.
    stdio = grpc.method_handlers_generic_handler("plugin.GRPCStdio", {
        "StreamStdio": grpc.unary_stream_rpc_method_handler(lambda req, ctx: iter(lambda: shutdown.wait() and None, None), **raw)})
    return [shammie, health, controller, stdio]


shutdown = threading.Event()


def server_credentials():
    """AutoMTLS: a fresh self-signed certificate for this process (its DER,
    base64, goes in the handshake line) and the host's client certificate
    as the only accepted client."""
    client_pem = os.environ.get("PLUGIN_CLIENT_CERT", "").encode()
    if not client_pem:
        sys.exit("pyclassifier: PLUGIN_CLIENT_CERT is not set: the host must use AutoMTLS")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shammie"), x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=30)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_pem, require_client_auth=True)
    der = cert.public_bytes(serialization.Encoding.DER)
    return creds, base64.b64encode(der).decode().rstrip("=")


def main():
    if os.environ.get(MAGIC_COOKIE[0]) != MAGIC_COOKIE[1]:
        sys.exit("This is a Shammie plugin: run it through `shammie` (e.g. `shammie plugins describe pyclassifier`).")
    offered = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(PROTOCOL_VERSION)).split(",")
    if str(PROTOCOL_VERSION) not in offered:
        sys.exit(f"pyclassifier speaks plugin protocol {PROTOCOL_VERSION}; the host offers {','.join(offered)}")
    # The host stops steps through the protocol; a Ctrl-C meant for the
    # host must not kill the plugin half-way. SIGTERM ends it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: shutdown.set())
    creds, cert_b64 = server_credentials()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)])
    server.add_generic_rpc_handlers(handlers(Plugin()))
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    # The handshake line, then nothing more on stdout: from here on, stray
    # prints go to stderr.
    sys.stdout.write(f"{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|127.0.0.1:{port}|grpc|{cert_b64}\n")
    sys.stdout.flush()
    sys.stdout = sys.stderr
    log(f"serving on 127.0.0.1:{port} (pid {os.getpid()})")
    # Exit when told to, or when the host dies (we are re-parented).
    parent = os.getppid()
    while not shutdown.wait(0.5):
        if os.getppid() != parent:
            break
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
