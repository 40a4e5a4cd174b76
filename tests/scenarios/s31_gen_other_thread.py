"""A generator created and started on one thread, resumed on another."""
import threading


def stepper():
    yield "main"
    yield "other"
    yield "main again"


def resume(gen, out):
    out.append(next(gen))


def main():
    gen = stepper()
    out = [next(gen)]
    t = threading.Thread(target=resume, args=(gen, out), name="resumer")
    t.start()
    t.join()
    out.append(next(gen))
    gen.close()
    return out
