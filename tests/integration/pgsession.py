"""A long-lived psql session driven line by line, for tests that need
transactions held open while others commit (no Python driver needed)."""
import subprocess
import uuid


class PsqlSession:
    def __init__(self, dsn):
        self.proc = subprocess.Popen(
            ["psql", dsn, "-XAtq", "-v", "ON_ERROR_STOP=0", "-F", "\x1f"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        # a driver runs sessions one statement at a time: a statement that
        # waited for another session's lock would wait forever, so it fails
        # instead (and the workload rolls that transaction back)
        self.run("SET lock_timeout = '50ms'")

    def run(self, sql):
        """Send sql and wait until psql has executed it; return its output
        lines.  Errors come back as lines starting with 'ERROR:'."""
        mark = "MARK-" + uuid.uuid4().hex
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + mark + "\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"psql session ended; output so far: {out}")
            line = line.rstrip("\n")
            if line == mark:
                return out
            out.append(line)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\\q\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
