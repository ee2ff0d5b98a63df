#!/usr/bin/env python3
"""dynokeeper's benchmark: the same data set, in the same run, backed up and restored by dynokeeper and by
the manual way, to and from a local SeaweedFS with SigV4 on.

- Backup: `dynokeeper backup` against BGSAVE followed by `aws s3 cp` of the RDB.
- Restore: `dynokeeper restore` (download, decompress, verify, stop Redis, put in place, start, wait for the
  data) against `aws s3 cp` of the RDB followed by a redis-server start that loads it.

It prints tables of wall time and peak memory (max RSS). Run it through `make bench` (release build).
Everything it starts listens on 127.0.0.1 and is stopped at the end.
"""
import argparse
import calendar
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret-key-0123456789"


def free_port(offset=None):
    """A free loopback port (and, with offset, port + offset free too)."""
    while True:
        port = random.randint(20000, 45000)
        ok = True
        for candidate in [port] + ([port + offset] if offset else []):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    ok = False
        if ok:
            return port


def iso_seconds(text):
    """Seconds since the epoch of an ISO 8601 UTC time such as 2026-11-30T10:59:34.043Z (0 for none)."""
    if not text:
        return 0
    whole, _, fraction = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + (float("0." + fraction) if fraction else 0)


def wait_for(what, check, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


class Servers:
    def __init__(self, work):
        self.work = work
        self.procs = []

    def start(self, args, log):
        proc = subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=self.work)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def aws_env(endpoint):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"})
    env.pop("AWS_PROFILE", None)
    return env


def timed(args, env=None, cwd=None):
    """Runs a command under /usr/bin/time: (wall seconds, max RSS MiB, stdout)."""
    start = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    rss_kib = int(result.stderr.strip().splitlines()[-1])
    return wall, rss_kib / 1024, result.stdout


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True, check=True).stdout


def populate(port, total_mb, value_bytes):
    """Random hexadecimal values (compressible by about half, like real data), through redis-cli --pipe."""
    count = total_mb * 1024 * 1024 // value_bytes
    pipe = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    batch = []
    for i in range(count):
        value = os.urandom(value_bytes // 2).hex()
        key = f"key:{i:09d}"
        batch.append(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${len(value)}\r\n{value}\r\n")
        if len(batch) == 1000:
            pipe.stdin.write("".join(batch).encode())
            batch = []
    pipe.stdin.write("".join(batch).encode())
    pipe.stdin.close()
    pipe.wait()
    return count


def bgsave(port):
    # Redis refuses BGSAVE while another child runs (the fork of a streamed backup that just ended may still be
    # exiting): a refused one would time nothing.
    wait_for("BGSAVE to start", lambda: "started" in redis_cli(port, "BGSAVE"))
    wait_for("BGSAVE", lambda: "rdb_bgsave_in_progress:0" in redis_cli(port, "INFO", "persistence").split(), timeout=600)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024, help="data set size (values only)")
    parser.add_argument("--value-bytes", type=int, default=1000)
    parser.add_argument("--binary", default=".build/release/dynokeeper")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each method, interleaved")
    parser.add_argument("--skip-backup", action="store_true", help="only the restore comparison")
    parser.add_argument("--skip-faults", action="store_true", help="no runs through the fault-injecting proxy")
    parser.add_argument("--skip-pitr", action="store_true", help="no point-in-time recovery benchmark")
    parser.add_argument("--only-pitr", action="store_true", help="only the point-in-time recovery benchmark")
    parser.add_argument("--pitr-writes", type=int, default=1_000_000, help="writes under the archiver per round")
    parser.add_argument("--core", action="store_true",
                        help="only the default backup (zstd -1, file and stream) against the manual ways: for 4 GiB")
    options = parser.parse_args()
    binary = os.path.abspath(options.binary)
    work = tempfile.mkdtemp(prefix="dynokeeper-bench-")
    servers = Servers(work)
    try:
        s3_port, master, filer, volume, admin = (free_port(10000) for _ in range(5))
        with open(f"{work}/s3.json", "w") as f:
            json.dump({"identities": [{"name": "bench", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        os.makedirs(f"{work}/weed")
        servers.start(["weed", "mini", f"-dir={work}/weed", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                       "-master.telemetry=false", "-admin.ui=false", "-webdav=false", f"-s3.config={work}/s3.json",
                       f"-s3.port={s3_port}", f"-master.port={master}", f"-filer.port={filer}",
                       f"-volume.port={volume}", f"-admin.port={admin}", "-s3.port.iceberg=0", "-s3.port.lance=0"],
                      f"{work}/weed.log")
        endpoint = f"http://127.0.0.1:{s3_port}"
        env = aws_env(endpoint)
        aws = ["aws", "--endpoint-url", endpoint]
        wait_for("SeaweedFS", lambda: subprocess.run(aws + ["s3api", "list-buckets"], env=env,
                                                      capture_output=True).returncode == 0)
        subprocess.run(aws + ["s3api", "create-bucket", "--bucket", "bench"], env=env, check=True, capture_output=True)

        if options.only_pitr:
            print_pitr(options, pitr_benchmark(options, work, binary, env, endpoint, servers))
            return
        redis_port = free_port()
        os.makedirs(f"{work}/redis")
        # Daemonized from a config file, so that dynokeeper's restore can stop it and start it (redis.start).
        with open(f"{work}/redis.conf", "w") as f:
            # repl-diskless-sync-delay 0: a streamed backup (backup.method: stream) starts at once rather than
            # waiting the default 5 s for more replicas; BGSAVE does not read it.
            f.write(f"port {redis_port}\nbind 127.0.0.1\ndir {work}/redis\nsave \"\"\ndaemonize yes\n"
                    f"pidfile {work}/redis.pid\nlogfile {work}/redis.log\nrepl-diskless-sync-delay 0\n")
        subprocess.run(["redis-server", f"{work}/redis.conf"], check=True)
        wait_for("redis-server", lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                                        capture_output=True).stdout.strip() == b"PONG")
        print(f"populating {options.size_mb} MiB of random values ...", file=sys.stderr)
        count = populate(redis_port, options.size_mb, options.value_bytes)
        bgsave(redis_port)
        rdb_size = os.path.getsize(f"{work}/redis/dump.rdb")
        print(f"{count} keys, RDB {rdb_size / 1e6:.0f} MB", file=sys.stderr)

        rows = []
        for round_number in range(0 if options.skip_backup else options.rounds):
            # The manual way: BGSAVE, then awscli's multipart upload (its defaults: 8 MiB parts, 10 at a time).
            start = time.monotonic()
            bgsave(redis_port)
            save = time.monotonic() - start
            wall, rss, _ = timed(aws + ["s3", "cp", f"{work}/redis/dump.rdb", f"s3://bench/manual/{round_number}/dump.rdb"],
                                 env=env)
            rows.append(("BGSAVE + aws s3 cp", save + wall, save, wall, rdb_size, rss))
            # The careful operator: compressed on the way, as dynokeeper stores it.
            start = time.monotonic()
            bgsave(redis_port)
            save = time.monotonic() - start
            wall, rss, _ = timed(["sh", "-c", f"zstd -1 -q -c {work}/redis/dump.rdb | aws --endpoint-url {endpoint} s3 cp - "
                                  f"s3://bench/manual-zstd/{round_number}/dump.rdb.zst"], env=env)
            rows.append(("BGSAVE + zstd -1 \\| aws s3 cp -", save + wall, save, wall, 0, rss))

            variants = [("zstd", 1, "file", False), ("zstd", 1, "stream", False)]
            if not options.core:
                variants += [("zstd", 1, "stream", True), ("zstd", 3, "file", False), ("none", 0, "file", False)]
            for compression, level, method, encrypted in variants:
                denv = dict(env)
                denv.update({"DYNOKEEPER_REDIS_PORT": str(redis_port), "DYNOKEEPER_STORAGE_URL": f"s3://bench/dk",
                             "DYNOKEEPER_STORAGE_ENDPOINT": endpoint, "DYNOKEEPER_BACKUP_COMPRESSION": compression,
                             "DYNOKEEPER_BACKUP_COMPRESSION_LEVEL": str(max(level, 1)), "DYNOKEEPER_LOG_LEVEL": "warning",
                             "DYNOKEEPER_BACKUP_METHOD": method,
                             "DYNOKEEPER_CLUSTER": f"bench-{round_number}-{compression}{level}-{method}{'-enc' * encrypted}"})
                if encrypted:
                    denv["DYNOKEEPER_ENCRYPTION_KEY_FILE"] = key_file(work)
                wall, rss, out = timed([binary, "backup"], env=denv, cwd=work)
                save_s = float(out.split("save: ")[1].split(" s")[0])
                upload_s = float(out.split("upload: ")[1].split(" s")[0])
                listing = subprocess.run([binary, "snapshots", "--json"], env=denv, cwd=work, capture_output=True,
                                         text=True, check=True).stdout
                stored = json.loads(listing.splitlines()[0])["stored_size"]
                name = (f"dynokeeper backup ({compression}{f' -{level}' if level else ''}"
                        f"{', stream' if method == 'stream' else ''}{', encrypted' if encrypted else ''})")
                rows.append((name, wall, save_s, upload_s, stored, rss))

        restore_rows = restore_benchmark(options, work, binary, env, aws, endpoint, redis_port, rdb_size)
        fault_rows = [] if options.skip_faults else fault_benchmark(work, binary, env, endpoint, redis_port, servers, options.rounds)
        pitr = None if options.skip_pitr else pitr_benchmark(options, work, binary, env, endpoint, servers)

        print()
        print(f"Backup of {options.size_mb} MiB of values ({count} keys, RDB {rdb_size / 1e6:.0f} MB) to SeaweedFS on "
              f"loopback, {os.cpu_count()} cores, {options.rounds} rounds interleaved")
        print()
        manual = mean([row[1] for row in rows if row[0] == "BGSAVE + aws s3 cp"])
        print("| method | wall s | × manual | save s | upload s | stored MB | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, wall, save, upload, stored, rss in rows:
            print(f"| {name} | {wall:.1f} | {wall / manual:.2f} | {save:.1f} | {upload:.1f} | "
                  f"{stored / 1e6 if stored else float('nan'):.0f} | {rss:.0f} |")
        print()
        print(f"Restore of the same data (RDB {rdb_size / 1e6:.0f} MB) from SeaweedFS, Redis stopped and started each time")
        print()
        manual = mean([row[1] for row in restore_rows if row[0].startswith("aws s3 cp")])
        print("| method | wall s | × manual | download s | start and load s | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, wall, download, load, rss in restore_rows:
            print(f"| {name} | {wall:.1f} | {wall / manual:.2f} | {download:.1f} | {load:.1f} | {rss:.0f} |")
        if fault_rows:
            print()
            print(f"Through a proxy that injects faults ({FAULTS_TEXT}), the same data, {options.rounds} rounds interleaved")
            print()
            print("| method | wall s | outcome | peak RSS MiB |")
            print("| --- | ---: | --- | ---: |")
            for name, wall, outcome, rss in fault_rows:
                print(f"| {name} | {wall:.1f} | {outcome} | {rss:.0f} |")
        if pitr:
            print_pitr(options, pitr)
    finally:
        if not options.only_pitr:
            subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], capture_output=True)
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)


def restore_benchmark(options, work, binary, env, aws, endpoint, redis_port, rdb_size):
    """Restores the data set both ways, interleaved; Redis is down between runs only while it is replaced."""
    denv = dict(env)
    denv.update({"DYNOKEEPER_REDIS_PORT": str(redis_port), "DYNOKEEPER_STORAGE_URL": "s3://bench/restore",
                 "DYNOKEEPER_STORAGE_ENDPOINT": endpoint, "DYNOKEEPER_LOG_LEVEL": "warning",
                 "DYNOKEEPER_BACKUP_COMPRESSION_LEVEL": "1", "DYNOKEEPER_RESTORE_ENABLED": "true",
                 "DYNOKEEPER_REDIS_START": f"redis-server {work}/redis.conf",
                 # Restores need redis.conf (or redis.data_dir), to find an interrupted restore while Redis is down.
                 "DYNOKEEPER_REDIS_CONF": f"{work}/redis.conf"})
    out = subprocess.run([binary, "backup"], env=denv, cwd=work, capture_output=True, text=True, check=True).stdout
    snapshot = out.split()[1]
    # The same data encrypted, under a prefix of its own.
    eenv = dict(denv, DYNOKEEPER_STORAGE_URL="s3://bench/restore-enc", DYNOKEEPER_ENCRYPTION_KEY_FILE=key_file(work))
    out = subprocess.run([binary, "backup"], env=eenv, cwd=work, capture_output=True, text=True, check=True).stdout
    encrypted_snapshot = out.split()[1]
    subprocess.run(aws + ["s3", "cp", f"{work}/redis/dump.rdb", "s3://bench/manual-restore/dump.rdb"], env=env,
                   check=True, capture_output=True)
    expected = keyspace(redis_port)
    rows = []
    for _ in range(options.rounds):
        # The manual way: download the RDB with awscli, stop Redis, move the file in place, start Redis, wait.
        start = time.monotonic()
        wall_dl, rss, _ = timed(aws + ["s3", "cp", "s3://bench/manual-restore/dump.rdb", f"{work}/download.rdb"], env=env)
        redis_cli(redis_port, "SHUTDOWN", "NOSAVE")
        wait_for("Redis to stop", lambda: b"PONG" not in subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                                                       capture_output=True).stdout)
        os.replace(f"{work}/download.rdb", f"{work}/redis/dump.rdb")
        load_start = time.monotonic()
        subprocess.run(["redis-server", f"{work}/redis.conf"], check=True)
        wait_for("Redis to load", lambda: "loading:0" in subprocess.run(
            ["redis-cli", "-p", str(redis_port), "INFO", "persistence"], capture_output=True, text=True).stdout.split(), 600)
        rows.append(("aws s3 cp + start redis-server", time.monotonic() - start, wall_dl, time.monotonic() - load_start, rss))

        for method, encrypted in [("files", False), ("online", False), ("files", True)]:
            menv = dict(eenv if encrypted else denv, DYNOKEEPER_RESTORE_METHOD=method)
            wall, rss, out = timed([binary, "restore", "--snapshot", encrypted_snapshot if encrypted else snapshot,
                                    "--no-safety-save"], env=menv, cwd=work)
            durations = {}
            for line in out.splitlines():
                line = line.strip()
                if ". " in line and line.endswith(" s"):
                    name, value = line.split(". ", 1)[1].rsplit(": ", 1)
                    durations[name] = float(value[:-2])
            if method == "files":
                rows.append(("dynokeeper restore" + (" (encrypted)" if encrypted else ""), wall, durations.get("fetch and verify", 0),
                             durations.get("start Redis and load", 0), rss))
            else:
                # Download and load overlap: one duration for both.
                both = durations.get("download and load", 0)
                rows.append(("dynokeeper restore (online)", wall, both, both, rss))
            if keyspace(redis_port) != expected:
                sys.exit(f"the {method} restore did not bring the data back: {keyspace(redis_port)} != {expected}")
    return rows



FAULTS = ["--slowdown-every", "10", "--reset-every", "7", "--cut-get-every", "3", "--cut-put-every", "3",
          "--latency-ms", "20"]
FAULTS_TEXT = ("503 SlowDown every 10th request, a reset before the response every 7th, every 3rd GET body cut at half, "
               "every 3rd large PUT body cut off, 20 ms added to every answer")


def fault_benchmark(work, binary, env, endpoint, redis_port, servers, rounds):
    """awscli and dynokeeper through the same fault-injecting proxy (the tests' own), up and down."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FaultProxy", "fault_proxy.py")
    port_file = f"{work}/proxy.port"
    servers.start([sys.executable, script, "--upstream", endpoint.replace("http://", ""), "--port-file", port_file] + FAULTS,
                  f"{work}/proxy.log")
    wait_for("the fault proxy", lambda: os.path.exists(port_file))
    proxy = f"http://127.0.0.1:{open(port_file).read().strip()}"
    aws = ["aws", "--endpoint-url", proxy]
    rows = []

    def outcome(code):
        return "byte-exact" if code == 0 else f"failed (exit {code})"

    denv = dict(env)
    denv.update({"DYNOKEEPER_REDIS_PORT": str(redis_port), "DYNOKEEPER_STORAGE_URL": "s3://bench/faults/dk",
                 "DYNOKEEPER_STORAGE_ENDPOINT": proxy, "DYNOKEEPER_LOG_LEVEL": "error", "DYNOKEEPER_RESTORE_ENABLED": "true",
                 "DYNOKEEPER_REDIS_START": f"redis-server {work}/redis.conf", "DYNOKEEPER_REDIS_CONF": f"{work}/redis.conf"})
    digest = keyspace(redis_port)
    for round_number in range(rounds):
        target = f"s3://bench/faults/manual/{round_number}/dump.rdb"
        wall, rss, code = timed_status(aws + ["s3", "cp", f"{work}/redis/dump.rdb", target], env=env)
        rows.append(("aws s3 cp up", wall, outcome(code), rss))
        if code != 0:
            # Put it there without faults, so that the download through them is still compared.
            subprocess.run(["aws", "--endpoint-url", endpoint, "s3", "cp", f"{work}/redis/dump.rdb", target], env=env,
                           check=True, capture_output=True)
        wall, rss, code = timed_status(aws + ["s3", "cp", target, f"{work}/faults.rdb"], env=env)
        same = code == 0 and sha256(f"{work}/faults.rdb") == sha256(f"{work}/redis/dump.rdb")
        rows.append(("aws s3 cp down", wall, "byte-exact" if same else f"failed (exit {code})", rss))
        denv["DYNOKEEPER_CLUSTER"] = f"faults-{round_number}"
        wall, rss, code = timed_status([binary, "backup"], env=denv, cwd=work)
        rows.append(("dynokeeper backup", wall, outcome(code), rss))
        if code == 0:
            wall, rss, code = timed_status([binary, "restore", "--no-safety-save"], env=denv, cwd=work)
            # The restore itself checks every file's SHA-256 against the manifest; here, the key counts Redis serves.
            rows.append(("dynokeeper restore", wall, ("restored, key counts match" if code == 0 else outcome(code))
                         if keyspace(redis_port) == digest or code != 0 else "wrong data", rss))
    return rows


def pitr_benchmark(options, work, binary, env, endpoint, servers):
    """Point-in-time recovery: the archiver's cost to a node under a steady write load (redis-benchmark's SET
    throughput without and with `serve` archiving, interleaved), the archive's size per million writes, and a restore
    to the moment after them (the base, then every write replayed) against a restore of the base alone."""
    port = free_port()
    folder = f"{work}/pitr"
    os.makedirs(f"{folder}/redis")
    conf = f"{folder}/redis.conf"
    with open(conf, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {folder}/redis\nsave \"\"\ndaemonize yes\n"
                f"pidfile {folder}/redis.pid\nlogfile {folder}/redis.log\nrepl-diskless-sync-delay 0\n"
                f"repl-backlog-size 64mb\n")
    subprocess.run(["redis-server", conf], check=True)
    try:
        wait_for("redis-server", lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                                        capture_output=True).stdout.strip() == b"PONG")
        populate(port, 10, 100)
        api = free_port()
        denv = dict(env)
        denv.update({"DYNOKEEPER_REDIS_PORT": str(port), "DYNOKEEPER_STORAGE_URL": "s3://bench/pitr",
                     "DYNOKEEPER_STORAGE_ENDPOINT": endpoint, "DYNOKEEPER_LOG_LEVEL": "warning",
                     "DYNOKEEPER_RESTORE_ENABLED": "true", "DYNOKEEPER_REDIS_START": f"redis-server {conf}",
                     "DYNOKEEPER_REDIS_CONF": conf, "DYNOKEEPER_PITR_ENABLED": "true",
                     "DYNOKEEPER_SERVER_LISTEN": f"127.0.0.1:{api}", "DYNOKEEPER_CLUSTER": "bench-pitr"})
        # 100-byte values of random digits (redis-benchmark draws each __rand_int__ anew), over 1,000,000 keys.
        value = "__rand_int__" * 8 + "abcd"
        load = ["redis-benchmark", "-p", str(port), "-n", str(options.pitr_writes), "-r", "1000000", "-c", "50",
                "-P", "16", "--csv", "SET", "key:__rand_int__", value]

        def throughput():
            out = subprocess.run(load, capture_output=True, text=True, check=True).stdout
            return float(out.strip().splitlines()[-1].split(",")[1].strip('"'))

        def status():
            out = subprocess.run(["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{api}/v1/status"],
                                 capture_output=True, text=True).stdout
            try:
                return json.loads(out).get("pitr") or {}
            except ValueError:
                return {}

        def master_offset():
            info = redis_cli(port, "INFO", "replication")
            return int(info.split("master_repl_offset:")[1].split()[0])

        without, archived, serve_rss, archive_bytes = [], [], [], []
        moment = None
        for _ in range(options.rounds):
            without.append(throughput())
            serve = subprocess.Popen([binary, "serve"], env=denv, cwd=work, stdout=open(f"{folder}/serve.log", "ab"),
                                     stderr=subprocess.STDOUT)
            servers.procs.append(serve)
            wait_for("the archiver's base", lambda: status().get("base") is not None, 600)
            before = stored_bytes(binary, denv, work)
            archived.append(throughput())
            target = master_offset()
            wait_for("the archive to catch up", lambda: status().get("stored_offset", -1) >= target, 600)
            moment = time.time()
            # The archive reaches a moment once a marker sent after it is stored (a segment closes every second).
            wait_for("the archive to reach the moment",
                     lambda: iso_seconds(status().get("stored_until")) >= moment, 600)
            archive_bytes.append(stored_bytes(binary, denv, work) - before)
            with open(f"/proc/{serve.pid}/status") as f:
                serve_rss.append(int([l for l in f if l.startswith("VmHWM:")][0].split()[1]) / 1024)
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
        expected = keyspace(port)
        snapshots = [json.loads(line) for line in subprocess.run([binary, "snapshots", "--json"], env=denv, cwd=work,
                                                                 capture_output=True, text=True, check=True).stdout.splitlines()]
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"
        wall, rss, out = timed([binary, "restore", "--to-time", at, "--no-safety-save"], env=denv, cwd=work)
        replay = float([l for l in out.splitlines() if "replay the archived stream:" in l][0].rsplit(": ", 1)[1][:-2])
        replayed = int(out.split("note: replayed ")[1].split()[0])
        if keyspace(port) != expected:
            sys.exit(f"the point-in-time restore did not bring the data back: {keyspace(port)} != {expected}")
        base = [s for s in snapshots if s["id"] in out][0]["id"]
        base_wall, base_rss, _ = timed([binary, "restore", "--snapshot", base, "--no-safety-save"], env=denv, cwd=work)
        return {"without": without, "with": archived, "serve_rss": serve_rss, "archive_bytes": archive_bytes,
                "restore": (wall, rss, replay, replayed), "base_restore": (base_wall, base_rss)}
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)


def stored_bytes(binary, env, work):
    out = subprocess.run([binary, "pitr", "status", "--json"], env=env, cwd=work, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)["stored_bytes"]


def print_pitr(options, pitr):
    writes = options.pitr_writes
    print()
    print(f"Point-in-time recovery: {writes} SETs of 100-byte values by redis-benchmark (50 clients, pipeline 16), "
          f"without and with serve archiving (pitr.enabled, segments to SeaweedFS), {options.rounds} rounds interleaved")
    print()
    print("| | SET/s without | SET/s with archiver | × | archive MB per million writes | serve peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for index, (a, b) in enumerate(zip(pitr["without"], pitr["with"])):
        print(f"| round {index + 1} | {a:.0f} | {b:.0f} | {b / a:.2f} | "
              f"{pitr['archive_bytes'][index] / 1e6 * 1_000_000 / writes:.1f} | {pitr['serve_rss'][index]:.0f} |")
    wall, rss, replay, replayed = pitr["restore"]
    base_wall, base_rss = pitr["base_restore"]
    print()
    print("| restore | wall s | replay s | commands replayed | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| the base snapshot alone (--snapshot) | {base_wall:.1f} | | | {base_rss:.0f} |")
    print(f"| to the moment after the last round's writes (--to-time) | {wall:.1f} | {replay:.1f} | {replayed} | {rss:.0f} |")


def timed_status(command, env, cwd=None):
    """Like timed, but returns the exit status instead of failing."""
    start = time.monotonic()
    process = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", "/tmp/dynokeeper-bench-rss"] + command, env=env, cwd=cwd,
                             capture_output=True, text=True)
    if os.environ.get("BENCH_VERBOSE"):
        sys.stderr.write(process.stdout[-2000:] + process.stderr[-20000:])
    wall = time.monotonic() - start
    try:
        rss = int(open("/tmp/dynokeeper-bench-rss").read().strip().splitlines()[-1]) / 1024
    except (OSError, ValueError, IndexError):
        rss = 0
    return wall, rss, process.returncode


def key_file(work):
    """The encryption key of the encrypted rows: 48 random bytes, mode 0600."""
    path = f"{work}/backup.key"
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(48))
        os.close(fd)
    return path


def sha256(path):
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def keyspace(port):
    return [line for line in redis_cli(port, "INFO", "keyspace").split() if line.startswith("db")]


if __name__ == "__main__":
    main()
