# Runs libvirt-python's own tests (the tests/ directory of its source, unchanged) against a daemon: every
# libvirt.open("test:///default") and libvirt.openAuth("test:///PATH", ...) those tests make goes to the daemon
# whose socket is given (test+unix:///default?socket=SOCKET, test+unix:///PATH?socket=SOCKET).
# Prints one line per test, "<id>: <outcome>[: <last line of the failure>]", sorted, then how many connections
# went to the daemon.
#   python3 libvirt_python_tests.py SOCKET TESTS_DIR
import sys, unittest, libvirt

socket, tests_dir = sys.argv[1], sys.argv[2]
opened = []
real_open, real_open_auth = libvirt.open, libvirt.openAuth

def daemon_uri(name):
    if name is not None and name.startswith("test:///"):
        return "test+unix:///" + name[len("test:///"):] + "?socket=" + socket
    return name

def redirected(name=None):
    conn = real_open(daemon_uri(name))
    opened.append(conn.getURI().replace(socket, "SOCKET"))
    return conn

def redirected_auth(name, auth, flags=0):
    opened.append(daemon_uri(name).replace(socket, "SOCKET"))
    return real_open_auth(daemon_uri(name), auth, flags)

libvirt.open, libvirt.openAuth = redirected, redirected_auth
sys.path.insert(0, tests_dir)

class Recorder(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.lines = {}

    @staticmethod
    def last(err):
        text = "".join(__import__("traceback").format_exception(*err)).strip()
        return text.splitlines()[-1] if text else ""

    def addSuccess(self, test):
        self.lines[test.id()] = "ok"

    def addFailure(self, test, err):
        self.lines[test.id()] = "FAIL: " + self.last(err)

    def addError(self, test, err):
        self.lines[test.id()] = "ERROR: " + self.last(err)

    def addSkip(self, test, reason):
        self.lines[test.id()] = "skipped: " + reason

    def addExpectedFailure(self, test, err):
        self.lines[test.id()] = "expected failure"

    def addUnexpectedSuccess(self, test):
        self.lines[test.id()] = "unexpected success"

suite = unittest.defaultTestLoader.discover(tests_dir, pattern="test_*.py", top_level_dir=tests_dir)
result = Recorder()
suite.run(result)
for name in sorted(result.lines):
    print("%s: %s" % (name, result.lines[name]))
print("connections to the daemon: %d (%s)" % (len(opened), ", ".join(sorted(set(
    u if "default" in u else "test+unix:///TMPFILE?socket=SOCKET" for u in opened)))))
