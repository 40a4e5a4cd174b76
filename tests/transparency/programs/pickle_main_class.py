"""A class defined in ``__main__`` pickled to bytes and to a file, and unpickled: the pickle
names ``__main__`` (the bytes are compared through the file the program writes), the copy
is equal, ``copy.deepcopy`` and a dataclass too."""
import copy
import dataclasses
import pickle


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)

    def __reduce__(self):
        return (Point, (self.x, self.y))


@dataclasses.dataclass
class Shape:
    name: str
    points: list


shape = Shape("triangle", [Point(0, 0), Point(1, 0), Point(0, 1)])
data = pickle.dumps(shape, protocol=4)
print("module named", b"__main__" in data, "Point" in Point.__qualname__, len(data))
with open("shape.pickle", "wb") as fh:
    pickle.dump(shape, fh, protocol=4)
with open("shape.pickle", "rb") as fh:
    again = pickle.load(fh)
print("equal", again == shape, type(again).__module__, type(again.points[0]).__qualname__)
print("deepcopy", copy.deepcopy(shape) == shape, pickle.loads(data) == shape)
