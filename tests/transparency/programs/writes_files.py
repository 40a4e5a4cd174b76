"""Files the program writes, appends, renames and removes, in a new directory, text and
binary, with and without ``with``; the runner compares the files left in the working
directory."""
import os

os.makedirs("out/nested", exist_ok=True)
with open("out/text.txt", "w", encoding="utf-8") as fh:
    fh.write("line 1\nligne 2 é\n")
with open("out/text.txt", "a", encoding="utf-8") as fh:
    print("appended", file=fh)
with open("out/nested/data.bin", "wb") as fh:
    fh.write(bytes(range(256)))
fh = open("out/unclosed.txt", "w")
fh.write("closed by the garbage collector")
del fh
with open("out/temp.txt", "w") as fh:
    fh.write("renamed")
os.replace("out/temp.txt", "out/renamed.txt")
with open("out/removed.txt", "w") as fh:
    fh.write("gone")
os.remove("out/removed.txt")
print(sorted(os.listdir("out")), os.path.getsize("out/nested/data.bin"))
