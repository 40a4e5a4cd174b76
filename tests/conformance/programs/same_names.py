"""Two modules defining functions, classes and methods with the same names."""
import conf_dup_a
import conf_dup_b

print(conf_dup_a.helper(1), conf_dup_b.helper(1))
print(conf_dup_a.K().run(), conf_dup_b.K().run())
print(conf_dup_b.helper(2), conf_dup_a.helper(2))
