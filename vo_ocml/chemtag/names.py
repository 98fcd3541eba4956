"""Names of the classifiers and representations (no heavy imports: the CLI's choices)."""

from __future__ import annotations

#: classifier names in the order of the study's Table 2
CLASSIFIERS = ("dummy", "random", "knn", "xgboost", "mlp", "random_forest", "linear_svm",
               "rbf_svm")
#: how each classifier is called in printed tables
DISPLAY_NAMES = {
    "dummy": "dummy", "random": "random", "knn": "nearest neighbours", "xgboost": "XGBoost",
    "mlp": "MLP", "random_forest": "random forest", "linear_svm": "linear SVM",
    "rbf_svm": "RBF SVM",
}
#: representation names in the order of the comparison table (the study's Table 4)
REPRESENTATIONS = ("all", "drop_noisiest", "drop_low_mi", "correlation_groups", "pca",
                   "multitask")
