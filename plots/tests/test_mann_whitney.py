"""compare.mann_whitney_u against values worked out by hand and by brute force."""

import itertools
import math
import random
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
from compare import mann_whitney_u, midranks, smallest_p  # plots/ on sys.path via fixtures

assert fixtures.PLOTS


def brute_force_p(x, y):
    """Two-sided exact p by enumerating every split of the pooled midranks."""
    ranks = midranks(list(x) + list(y))
    n1 = len(x)
    observed = sum(ranks[:n1])
    sums = [sum(ranks[i] for i in c) for c in itertools.combinations(range(len(ranks)), n1)]
    lower = sum(s <= observed + 1e-9 for s in sums)
    upper = sum(s >= observed - 1e-9 for s in sums)
    return min(1.0, 2 * min(lower, upper) / len(sums))


class MidranksTest(unittest.TestCase):
    def test_ties_share_the_mean_rank(self):
        self.assertEqual(midranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
        self.assertEqual(midranks([3, 1, 2]), [3, 1, 2])
        self.assertEqual(midranks([5, 5, 5]), [2, 2, 2])


class ExactTest(unittest.TestCase):
    def test_complete_separation(self):
        # Only 1 of C(6,3) = 20 splits puts 1,2,3 in x; two-sided: 2/20.
        r = mann_whitney_u([1, 2, 3], [4, 5, 6])
        self.assertEqual((r.u1, r.u2, r.method), (0, 9, "exact"))
        self.assertAlmostEqual(r.p, 0.1, places=12)
        # C(7,3) = 35 -> 2/35; C(10,5) = 252 -> 2/252.
        self.assertAlmostEqual(mann_whitney_u([1, 2, 3], [4, 5, 6, 7]).p, 2 / 35, places=12)
        self.assertAlmostEqual(mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p, 2 / 252,
                               places=12)
        # 8 vs 8: C(16, 8) = 12870.
        self.assertAlmostEqual(mann_whitney_u(range(8), range(8, 16)).p, 2 / 12870, places=14)

    def test_interleaved(self):
        # x = 1,3,5 vs y = 2,4,6: U1 = 3. Counts of U for 3 vs 3, U = 0..9:
        # 1,1,2,3,3,3,3,2,1,1 (20 in all); P(U <= 3) = 7/20, so p = 0.7.
        r = mann_whitney_u([1, 3, 5], [2, 4, 6])
        self.assertEqual(r.u1, 3)
        self.assertAlmostEqual(r.p, 0.7, places=12)

    def test_identical_samples(self):
        r = mann_whitney_u([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
        self.assertEqual(r.u1, 12.5)
        self.assertEqual(r.p, 1.0)
        self.assertEqual(mann_whitney_u([7] * 5, [7] * 5).p, 1.0)

    def test_ties_match_brute_force(self):
        x, y = [1, 2, 2, 3, 5], [2, 3, 4, 4, 6, 7]
        r = mann_whitney_u(x, y)
        self.assertEqual(r.u1, 6.5)
        self.assertAlmostEqual(r.p, brute_force_p(x, y), places=12)
        self.assertAlmostEqual(r.p, 0.12554112554112554, places=12)

    def test_random_samples_match_brute_force(self):
        rng = random.Random(20241127)
        for n1 in range(1, 9):
            for n2 in (1, 3, 5, 8):
                x = [rng.randint(0, 6) for _ in range(n1)]   # small range: many ties
                y = [rng.randint(0, 6) for _ in range(n2)]
                with self.subTest(x=x, y=y):
                    r = mann_whitney_u(x, y)
                    self.assertEqual(r.method, "exact")
                    self.assertAlmostEqual(r.p, brute_force_p(x, y), places=12)
                    self.assertAlmostEqual(r.p, mann_whitney_u(y, x).p, places=12)
                    self.assertAlmostEqual(r.u1 + r.u2, n1 * n2)

    def test_smallest_p(self):
        self.assertAlmostEqual(smallest_p(3, 3), 0.1)
        self.assertAlmostEqual(smallest_p(5, 5), 2 / 252)


class AsymptoticTest(unittest.TestCase):
    def test_complete_separation_10_vs_10(self):
        # mu = 50, sigma = sqrt(10*10*21/12) = sqrt(175); z = (100 - 50 - 0.5)/sqrt(175)
        # = 3.741848; p = 2*(1 - Phi(z)) = 1.826717911e-4 (scipy.stats.mannwhitneyu,
        # method='asymptotic', gives 0.00018267179110955).
        r = mann_whitney_u(range(1, 11), range(11, 21))
        self.assertEqual(r.method, "asymptotic")
        self.assertEqual((r.u1, r.u2), (0, 100))
        self.assertAlmostEqual(r.p, 0.00018267179110955, delta=1e-15)

    def test_tie_correction(self):
        # N = 11, n1 = 5, n2 = 6. Ties: 2 three times, 3 and 4 twice each:
        # sum(t^3 - t) = 24 + 6 + 6 = 36. var = 30/12 * (12 - 36/110) = 29.1818...
        # U = max(6.5, 23.5) = 23.5; z = (23.5 - 15 - 0.5)/sqrt(29.1818) = 1.480927...
        x, y = [1, 2, 2, 3, 5], [2, 3, 4, 4, 6, 7]
        var = 30 / 12 * (12 - 36 / 110)
        z = 8 / math.sqrt(var)
        self.assertAlmostEqual(z, 1.480928, places=5)
        r = mann_whitney_u(x, y, method="asymptotic")
        self.assertAlmostEqual(r.p, math.erfc(z / math.sqrt(2)), places=12)
        self.assertAlmostEqual(r.p, 0.138626, places=5)

    def test_auto_switches_above_eight(self):
        self.assertEqual(mann_whitney_u(range(8), range(8)).method, "exact")
        self.assertEqual(mann_whitney_u(range(9), range(8)).method, "asymptotic")
        self.assertEqual(mann_whitney_u(range(20), range(20)).p, 1.0)

    def test_exact_and_asymptotic_agree_roughly(self):
        rng = random.Random(7)
        for _ in range(20):
            x = [rng.gauss(0, 1) for _ in range(8)]
            y = [rng.gauss(0.5, 1) for _ in range(8)]
            exact = mann_whitney_u(x, y, "exact").p
            approx = mann_whitney_u(x, y, "asymptotic").p
            self.assertLess(abs(exact - approx), 0.03)


if __name__ == "__main__":
    unittest.main()
