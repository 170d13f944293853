"""What the seeded demo day is made of: the day's counts, its places, names, supplies, work
orders, resolutions and night emergencies (港闻区's own words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from coordination.domain.values import (
    Cash,
    CatalogueItem,
    Category,
    DonorKind,
    Earmark,
    Kind,
    SupplyCategory,
)

DEFAULT_SEED = 20200208
DISTRICT = "gangwen"
UNCOVERED = "gangwen/kaifaqu/xingang"  # no night duty here: its night emergency escalates
TICK = timedelta(minutes=5)

EPIDEMIC_SUPPLY = 45
EPIDEMIC_VISITS = 25
EPIDEMIC_WORK = 30
ORDINARY_WORK = 40
CARRIED_OVER = 4  # evening epidemic orders left unsigned at midnight
LEFT_IN_PROGRESS = 5  # ordinary orders still being worked on (five working days to resolve)

# community -> (place names that route to it, weight of its share of the day's orders)
COMMUNITIES: dict[str, tuple[tuple[str, ...], float]] = {
    "gangwen/chenqiao/yonghe": (("永和佳苑", "永和佳苑小区"), 5.0),
    "gangwen/chenqiao/huaqiao": (("花桥", "花桥新村"), 2.0),
    "gangwen/chenqiao/gongyuan": (("公园", "公园路"), 2.0),
    "gangwen/chenqiao/lidu": (("丽都", "丽都花园"), 2.0),
    "gangwen/binjiang/wanghai": (("望海", "望海苑"), 2.0),
    "gangwen/binjiang/chuanwan": (("船湾", "船湾码头"), 1.5),
    "gangwen/kaifaqu/xingang": (("新港", "新港工业园"), 1.5),
}
STREET_PLACES = {
    "gangwen/chenqiao": "陈桥街道",
    "gangwen/binjiang": "滨江街道",
    "gangwen/kaifaqu": "港闻开发区",
}
STAFF_PER_COMMUNITY = {"gangwen/chenqiao/yonghe": 4}  # others: 3

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁"
)
_GIVEN = (
    "建国秀英桂英志强丽华海燕晓明国伟芳芳静怡艳红志勇建军俊杰丽娟海涛春梅国庆红梅文华德明淑珍新民"
)
GIVEN = tuple(_GIVEN[i : i + 2] for i in range(0, len(_GIVEN), 2))  # two characters each
PHONE_PREFIXES = ("138", "139", "137", "135", "136", "150", "158", "186", "189")

# What a household's delivery order asks for: (item, its counting unit, least, most). Each is
# in the catalogue below; the order reserves it from its community's stock when handed down.
SUPPLIES = [
    ("口罩", "个", 10, 50),
    ("体温计", "支", 1, 2),
    ("84消毒液", "斤", 1, 4),  # decanted from the community's stock into residents' bottles
    ("酒精棉片", "盒", 1, 3),
    ("大米", "斤", 10, 25),
    ("蔬菜包", "袋", 1, 3),
    ("降压药", "盒", 1, 2),
]
SUPPLY_WHO = ["居家隔离户", "独居老人", "行动不便的残疾人", "湖北返乡隔离家庭", "孕妇家庭"]

# (category, title, description, handled by: "community" | "street" | "market" | "health")
EPIDEMIC_WORK_ORDERS = [
    (
        Category.TIP,
        "有人从湖北返回未登记",
        "邻居反映对门住户近日从湖北返回，未向社区登记",
        "community",
    ),
    (Category.TIP, "商铺违规开门营业", "小区门口棋牌室违规营业，人员聚集", "community"),
    (Category.TIP, "有居民聚集打牌", "楼下凉亭多人聚集打牌不戴口罩", "community"),
    (Category.COMPLAINT, "药店口罩哄抬价格", "药店一只普通口罩卖十元，明显哄抬价格", "market"),
    (Category.COMPLAINT, "超市蔬菜涨价", "超市蔬菜价格比上周翻倍", "market"),
    (Category.COMPLAINT, "小区消毒不到位", "楼道几天没有消毒，垃圾桶满溢", "community"),
    (Category.COMPLAINT, "卡口登记排队太久", "小区卡口进出登记排队半小时", "community"),
    (Category.CONSULTATION, "咨询居家隔离政策", "家人从外地返回，咨询是否需要居家隔离", "street"),
    (Category.CONSULTATION, "咨询复工证明办理", "企业复工需要什么证明，到哪里办理", "street"),
    (Category.CONSULTATION, "咨询发热门诊", "家中老人低烧，咨询最近的发热门诊", "health"),
]
ORDINARY_WORK_ORDERS = [
    (Category.CONSULTATION, "咨询社保缴费", "疫情期间社保缴费能否延期", "street"),
    (Category.CONSULTATION, "咨询户口迁移", "咨询户口迁移需要的材料", "street"),
    (Category.CONSULTATION, "咨询公积金提取", "咨询公积金提取办理方式", "street"),
    (Category.COMPLAINT, "夜间噪音扰民", "楼上装修夜间施工噪音扰民", "community"),
    (Category.COMPLAINT, "楼道堆物", "楼道堆放杂物，存在消防隐患", "community"),
    (Category.COMPLAINT, "路灯不亮", "小区门口路灯坏了一周", "community"),
    (Category.COMPLAINT, "垃圾清运不及时", "垃圾站两天未清运", "community"),
    (Category.COMPLAINT, "培训机构退费纠纷", "停课后培训机构拒不退费", "market"),
    (Category.TIP, "违章搭建", "一楼住户在绿化带违章搭建", "community"),
    (Category.TIP, "电动车楼道充电", "有人在楼道里给电动车充电", "community"),
]
DEPARTMENTS = {"market": "gangwen/market", "health": "gangwen/health"}
RETURN_REASONS = {
    "gangwen/market": "价格与退费问题属市场监管职责，非本街道事权，请转区市场监管局",
    "gangwen/health": "发热门诊咨询属卫健部门职责，请转区卫健委",
}
RESOLUTIONS = {
    Kind.SUPPLY_DELIVERY: "物资已送到居民家中，当面签收",
    Kind.QUARANTINE_VISIT: "已上门测温，体温正常，了解生活需求并登记",
    Kind.NIGHT_EMERGENCY: "值班人员已送去新的体温计，居民体温正常",
}
WORK_RESOLUTIONS = {
    Category.TIP: "已上门核实并处置，已登记并纳入社区管理",
    Category.COMPLAINT: "已现场核查，责令整改，已向来电人反馈",
    Category.CONSULTATION: "已电话答复来电人，解释相关政策",
}
# (community or street place, title, description, how it goes)
NIGHT_EMERGENCIES = [
    ("永和佳苑", 22, 10, "体温计打碎了", "居家隔离的居民体温计打碎了，需要马上送一支", "duty"),
    ("港闻开发区", 22, 25, "集中隔离点体温计损坏", "开发区企业宿舍隔离点体温计损坏", "street"),
    ("花桥", 22, 40, "隔离户老人发烧", "居家隔离户老人夜间低烧，需要测温并联系医院", "duty"),
    ("新港", 23, 5, "体温计打碎了", "居家隔离人员的体温计打碎了，孩子需要测温", "uncovered"),
    ("丽都", 23, 15, "隔离户急需退烧药", "居家隔离户夜间急需退烧药和体温计", "late_claim"),
]

# --- supplies ------------------------------------------------------------------------------

P, T, D, M, N = (
    SupplyCategory.PROTECTION,
    SupplyCategory.TEMPERATURE,
    SupplyCategory.DISINFECTION,
    SupplyCategory.MEDICAL,
    SupplyCategory.DAILY_NEEDS,
)
# The district's catalogue as the demo needs it. The record counts 84 disinfectant in 斤 (公园)
# and in barrels (丽都) without saying how much a barrel holds: two items, not a made-up
# conversion.
CATALOGUE = [
    CatalogueItem("口罩", P, "个"),
    CatalogueItem("防护服", P, "件"),
    CatalogueItem("额温枪", T, "把"),
    CatalogueItem("体温计", T, "支"),
    CatalogueItem("84消毒液", D, "斤"),
    CatalogueItem("84消毒液(桶装)", D, "桶"),
    CatalogueItem("医用酒精", D, "桶"),
    CatalogueItem("酒精棉片", D, "盒"),
    CatalogueItem("纸巾", N, "箱"),
    CatalogueItem("大米", N, "斤"),
    CatalogueItem("蔬菜包", N, "袋"),
    CatalogueItem("降压药", M, "盒"),
]
CHENQIAO = "gangwen/chenqiao"
CDC = "gangwen/cdc"
Items = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Gift:
    """One donation of the district's own record."""

    days_before: int  # before the demo day: 2月2日 is six days before 2月8日
    at: tuple[int, int]  # local hour and minute
    unit: str
    kind: DonorKind
    donor: str
    received_by: str
    items: Items = ()
    cash: Cash | None = None
    note: str = ""


# The district's own record (2月2日 to 2月6日 when the demo day is 2月8日), recorded once.
STORY_GIFTS = [
    Gift(6, (15, 0), "gangwen/chenqiao/huaqiao", DonorKind.ORGANISATION, "港闻置业公司党支部",
         "花桥社区 陈秀英", (("纸巾", 2),), note="放在各楼电梯口，居民按电梯时用"),
    Gift(5, (10, 30), CDC, DonorKind.COMPANY, "港闻医学检验实验室", "区疾控中心 物资科",
         (("防护服", 1200),)),
    Gift(4, (11, 0), "gangwen/chenqiao/gongyuan", DonorKind.ORGANISATION, "港闻爱心公益协会",
         "公园社区物业 刘海涛", (("84消毒液", 1040),), note="用于公园社区公共区域消杀"),
    Gift(3, (10, 0), CHENQIAO, DonorKind.COMPANY, "港闻医药连锁有限公司", "陈桥街道物资保障组",
         (("医用酒精", 5),)),
    Gift(3, (15, 0), "gangwen", DonorKind.COMPANY, "港闻港务集团有限公司", "区红十字会 张丽华",
         cash=Cash(15_000_000, (Earmark("支援武汉医护人员", 8_000_000),
                                Earmark("区一线防护物资采购", 7_000_000)))),
    Gift(2, (9, 0), "gangwen/chenqiao/lidu", DonorKind.COMPANY, "丽都惠民超市",
         "丽都社区 黄志强", (("84消毒液(桶装)", 6),)),
    Gift(2, (14, 0), CHENQIAO, DonorKind.COMPANY, "赣州康宁医疗器械有限公司",
         "陈桥街道物资保障组", (("额温枪", 11), ("口罩", 1000)),
         note="从200公里外寄来的包裹"),
]  # fmt: skip
# 陈桥街道's supplies team posts its plea the evening of 2月4日 (days before, hour, minute).
STORY_PLEA = (4, (20, 30), CHENQIAO, (("额温枪", 20), ("口罩", 1000)),
              "物资保障组：卡口和入户测温缺额温枪，一线人员缺口罩")  # fmt: skip
# 2月6日 afternoon: 公园社区 sends part of its 84 back up to the street, which passes the
# parcel and the alcohol down (丽都 finds some masks spoilt on the way).
# (days before, (hour, minute), from, to, items, note, received at, received, loss reason)
Move = tuple[int, tuple[int, int], str, str, Items, str, tuple[int, int], Items | None, str]
STORY_MOVES: list[Move] = [
    (2, (15, 0), "gangwen/chenqiao/gongyuan", CHENQIAO, (("84消毒液", 400),),
     "公园社区富余，交街道统筹", (15, 40), None, ""),
    (2, (16, 0), CHENQIAO, "gangwen/chenqiao/yonghe",
     (("口罩", 300), ("额温枪", 3), ("84消毒液", 150), ("医用酒精", 2)),
     "永和佳苑安置小区近万居民", (17, 0), None, ""),
    (2, (16, 5), CHENQIAO, "gangwen/chenqiao/huaqiao",
     (("口罩", 150), ("额温枪", 2), ("84消毒液", 80), ("医用酒精", 1)), "", (17, 20), None, ""),
    (2, (16, 10), CHENQIAO, "gangwen/chenqiao/gongyuan",
     (("口罩", 150), ("额温枪", 2), ("医用酒精", 1)), "", (17, 30), None, ""),
    (2, (16, 15), CHENQIAO, "gangwen/chenqiao/lidu",
     (("口罩", 200), ("额温枪", 2), ("84消毒液", 100), ("医用酒精", 1)), "", (17, 45),
     (("口罩", 190), ("额温枪", 2), ("84消毒液", 100), ("医用酒精", 1)),
     "一包口罩运输途中受潮，10个不能使用"),
]  # fmt: skip

# Each demo day, early: every street is given what its communities' deliveries will draw and
# passes it down; a delivery order reserves from its community's stock from about 07:40.
DAILY_DONORS = [
    (DonorKind.COMPANY, "港闻粮油贸易有限公司"),
    (DonorKind.COMPANY, "滨江物流有限公司"),
    (DonorKind.ORGANISATION, "港闻商会"),
    (DonorKind.COMPANY, "新港电子科技有限公司"),
    (DonorKind.ORGANISATION, "港闻青年志愿者协会"),
    (DonorKind.INDIVIDUAL, "王建国"),
]
SHORT = "gangwen/chenqiao/yonghe"  # posts a plea the day's gifts do not meet: a shortage
SHORT_PLEA: Items = (("口罩", 2000), ("84消毒液", 300))
SHORT_NOTE = "安置小区近万居民，口罩和消毒液缺口大"
ANONYMOUS_GIFT: Items = (("口罩", 200),)  # from a resident who gives no name, to SHORT
