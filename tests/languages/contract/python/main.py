import sys

from shout import shout

print("stdin:", sys.stdin.readline().strip())
print("shout:", shout(" ".join(sys.argv[1:])))
try:
    with open("/etc/passwd") as passwd:
        passwd.read()
    print("read: allowed")
except OSError:
    print("read: denied")
if len(sys.argv) > 2:
    sys.exit(7)
