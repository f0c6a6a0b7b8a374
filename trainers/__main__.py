import sys

from trainers.cli import main
from trainers.malloc import keep_freed_memory

keep_freed_memory()  # this process may run a job phase itself (train, pairs): see trainers/malloc.py
sys.exit(main())
