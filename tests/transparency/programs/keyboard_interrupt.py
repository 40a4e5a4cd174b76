"""An uncaught KeyboardInterrupt raised inside the program: python prints the traceback and
the process dies by SIGINT (status -2 to the parent)."""


def wait_for_user():
    raise KeyboardInterrupt


print("waiting")
wait_for_user()
