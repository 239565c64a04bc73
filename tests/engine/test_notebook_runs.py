from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.notebook import NotebookWarning


def titanic_like_csv(path, rows=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "Pclass": rng.integers(1, 4, rows),
        "Sex": rng.choice(["male", "female"], rows),
        "Age": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(30, 12, rows).round()),
        "Fare": rng.gamma(2, 15, rows).round(2),
    })
    df["Survived"] = ((df.Sex == "female") * 0.6 + (df.Pclass == 1) * 0.3
                      + rng.normal(0, 0.3, rows) > 0.5).astype(int)
    df.to_csv(path, index=False)


# Modelled on Kale's titanic example: `block:` tags, a DataFrame fanned out to five parallel
# model steps, data read from a CSV beside the notebook, results joined at the end.
TITANIC = [
    (["markdown"], "# Titanic"),
    (["imports"], """
        import numpy as np
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.naive_bayes import GaussianNB
        from sklearn.svm import SVC
        from sklearn.tree import DecisionTreeClassifier
        from sklearn.ensemble import RandomForestClassifier
    """),
    (["pipeline-parameters"], "TREES = 20"),
    (["block:loaddata"], "train_df = pd.read_csv('train.csv')"),
    (["block:datapreprocessing", "prev:loaddata"], """
        train_df['Age'] = train_df['Age'].fillna(train_df['Age'].median())
        train_df['Sex'] = (train_df['Sex'] == 'female').astype(int)
    """),
    (None, "%matplotlib inline"),
    (["block:featureengineering", "prev:datapreprocessing"], """
        train_labels = train_df['Survived']
        train_df = train_df.drop(columns=['Survived'])
    """),
    (["block:decisiontree", "prev:featureengineering"], """
        acc_decision_tree = DecisionTreeClassifier(random_state=0).fit(train_df, train_labels).score(train_df, train_labels)
    """),
    (["block:svm", "prev:featureengineering"], """
        acc_linear_svc = SVC().fit(train_df, train_labels).score(train_df, train_labels)
    """),
    (["block:naivebayes", "prev:featureengineering"], """
        acc_gaussian = GaussianNB().fit(train_df, train_labels).score(train_df, train_labels)
    """),
    (["block:logisticregression", "prev:featureengineering"], """
        acc_log = LogisticRegression(max_iter=500).fit(train_df, train_labels).score(train_df, train_labels)
    """),
    (["block:randomforest", "prev:featureengineering"], """
        random_forest = RandomForestClassifier(n_estimators=TREES, random_state=0)
        acc_random_forest = random_forest.fit(train_df, train_labels).score(train_df, train_labels)
    """),
    (["block:results", "prev:decisiontree", "prev:svm", "prev:naivebayes",
      "prev:logisticregression", "prev:randomforest"], """
        results = pd.DataFrame({
            'Model': ['SVM', 'Logistic', 'Random Forest', 'Naive Bayes', 'Decision Tree'],
            'Score': [acc_linear_svc, acc_log, acc_random_forest, acc_gaussian, acc_decision_tree]})
        best = float(results['Score'].max())
        print(results.sort_values(by='Score', ascending=False))
    """),
    (["pipeline-metrics"], "print(best)\nprint(acc_random_forest)"),
]


def test_titanic_style_notebook_fans_a_dataframe_out_to_five_parallel_steps(notebook, tmp_path):
    titanic_like_csv(tmp_path / "train.csv")
    nb = notebook(TITANIC, metadata={"pipeline_name": "titanic-ml", "experiment_name": "titanic"})
    with pytest.warns(NotebookWarning):
        run = kiln.run(nb, parallelism=2)
    assert run.status == "succeeded", run.error
    assert set(run.steps) == {"loaddata", "datapreprocessing", "featureengineering",
                              "decisiontree", "svm", "naivebayes", "logisticregression",
                              "randomforest", "results", "pipeline_metrics"}
    assert 0.5 < run.metrics["best"] <= 1.0
    assert "acc_random_forest" in run.metrics
    fe = run.outputs["featureengineering"]
    assert isinstance(fe["train_df"], pd.DataFrame) and "Survived" not in fe["train_df"]
    assert "Random Forest" in run.logs("results")
    # the step that read the CSV ran in the notebook's folder
    assert run.info.tasks[0].outputs["train_df"].codec == "pandas-parquet"


XGB = [
    (["imports"], "import numpy as np\nimport xgboost as xgb"),
    (["pipeline-parameters"], "ROUNDS = 5\nETA = 0.3"),
    (["step:data"], """
        rng = np.random.default_rng(0)
        x = rng.normal(size=(300, 4))
        y = (x[:, 0] + x[:, 1] > 0).astype(int)
        dtrain = xgb.DMatrix(x[:200], label=y[:200])
        dtest = xgb.DMatrix(x[200:], label=y[200:])
    """),
    (["step:train", "prev:data"], """
        bst = xgb.train({'eta': ETA, 'objective': 'binary:logistic'}, dtrain, ROUNDS)
    """),
    (["step:evaluate", "prev:train"], """
        preds = bst.predict(dtest)
        accuracy = float(((preds > 0.5) == dtest.get_label()).mean())
    """),
    (["pipeline-metrics"], "print(accuracy)"),
]


def test_xgboost_dmatrix_and_booster_pass_between_steps(notebook):
    pytest.importorskip("xgboost")
    run = kiln.run(notebook(XGB))
    assert run.status == "succeeded", run.error
    assert run.metrics["accuracy"] > 0.8
    refs = run.info.tasks
    data = next(t for t in refs if t.step == "data")
    assert {r.codec for r in data.outputs.values()} == {"xgboost"}
    assert run.outputs["train"]["bst"].num_boosted_rounds() == 5


def test_kale_parameters_and_metrics_notebook_runs_unchanged(kale_notebooks):
    run = kiln.run(kale_notebooks / "pipeline_parameters_and_metrics.ipynb",
                   params={"d1": 3})
    assert run.status == "succeeded", run.error
    assert run.metrics["d1"] == 3 and run.metrics["d2"] == 6
    matrix = run.outputs["create_matrix"]["rnd_matrix"]
    assert matrix.shape == (3, 6)
    assert run.metrics["sum_result"] == pytest.approx(float(matrix.sum()))


def test_a_failing_cell_is_reported_with_its_cell_and_line(notebook):
    nb = notebook([
        (["step:a"], "x = 1"),
        (["step:b", "prev:a"], "y = x + 1\nz = y / 0"),
    ], name="broken.ipynb")
    run = kiln.run(nb)
    assert run.status == "failed"
    assert "ZeroDivisionError" in run.error
    assert "broken.ipynb [cell 2], line 2" in run.error
    assert 'File "broken.ipynb [cell 2]", line 2' in run.logs("b")
    assert "z = y / 0" in run.logs("b")


def test_functions_cells_and_parameters_are_visible_in_every_step(notebook):
    nb = notebook([
        (["imports"], "import math"),
        (["pipeline-parameters"], "BASE = 10"),
        (["functions"], "def grow(v):\n    return v * BASE + math.floor(0.5)"),
        (["step:a"], "a = grow(1)"),
        (["step:b", "prev:a"], "b = grow(a)"),
        (["pipeline-metrics"], "print(b)"),
    ])
    run = kiln.run(nb, params={"BASE": 2})
    assert run.status == "succeeded", run.error
    assert run.outputs["a"]["a"] == 2
    assert run.metrics["b"] == 4
    assert list(run.outputs["b"]) == ["b"]  # only what a later step (metrics) reads is kept
