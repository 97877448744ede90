"""imbalanced-learn's and scikit-learn's estimator checks on M2MOverSampler."""

from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_checks
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from m2m_sampler import M2MOverSampler

# Each expected failure with its reason.
SKLEARN_EXPECTED_FAILURES: dict[str, str] = {}
IMBLEARN_EXPECTED_FAILURES: dict[str, str] = {
    "check_samplers_pandas_sparse": (
        "sparse input is refused: gradient steps make every feature of a translated sample "
        "non-zero, so the output could not stay sparse"
    ),
}


@imblearn_checks(
    [M2MOverSampler(random_state=0)], expected_failed_checks=lambda est: IMBLEARN_EXPECTED_FAILURES
)
def test_imblearn_checks(estimator, check):
    check(estimator)


@sklearn_checks(
    [M2MOverSampler(random_state=0)], expected_failed_checks=lambda est: SKLEARN_EXPECTED_FAILURES
)
def test_sklearn_checks(estimator, check):
    check(estimator)
