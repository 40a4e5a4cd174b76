"""An uncaught exception raised three frames deep ends the program (exit status 1)."""


def parse(text):
    return int(text)


def load(values):
    numbers = []
    for value in values:
        numbers.append(parse(value))
    return numbers


def main():
    print(load(["1", "2"]))
    print(load(["3", "oops"]))


main()
