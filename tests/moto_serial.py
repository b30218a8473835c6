"""The moto AWS emulator, serving one request at a time.

Usage: python tests/moto_serial.py HOST PORT

Real DynamoDB runs every conditional write and TransactWriteItems atomically. moto's
stock server is multi-threaded and checks conditions without a lock, so two concurrent
transactions can both pass `attribute_not_exists` - a race the real service does not
have. Serving requests one at a time restores the guarantee the code relies on, while
clients still race each other: a read-then-write implementation would still fail the
concurrency tests.
"""
import os
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
run_simple(host, port, app, threaded=False, use_reloader=False)
