"""The hand-written content of the demo: the meme images and the posts, grouped by the phase of
the story they belong to. make_demo.py turns phases into timestamps and adds authors and
engagement.

Story: Nimbus (Nimbus 7 / 云朵手机) is liked, except for a short dip 13.5-16.5 days ago when
the Nimbus OS 5.1 update broke Bluetooth (fixed by 5.1.1). Voltra (Voltra X2 / 伏特拉 X2)
launches well, then over the last 8 days a battery-drain / overheating scandal grows, with a
lot of sarcasm and mocking memes.

Labels: pos, neg, neu (questions, news, shipping) and sar (sarcasm or disguised criticism: the
words praise, the intent is negative). A post comparing both brands is labelled by its overall
tone.
"""

from __future__ import annotations

from typing import NamedTuple

from data.demo.memes import MemeSpec

SAD_BG = ((200, 220, 245), (165, 195, 235))
GREY_BG = ((215, 210, 225), (185, 178, 200))
PINK_BG = ((255, 215, 225), (250, 185, 205))
NIMBUS_GREEN = (156, 185, 160)
VOLTRA_GREY = (128, 132, 140)
WIDE = (512, 384)


def face(name: str, mood: str, top: str, bottom: str = "", bg=None) -> MemeSpec:
    options = {"mood": mood} if bg is None else {"mood": mood, "bg": bg}
    return MemeSpec(name, "face", top, bottom, options=options)


MEMES: list[MemeSpec] = [
    # Nimbus, sincere
    MemeSpec("nimbus_sparkle_en", "product", "NIMBUS 7", "SO CLEAN"),
    MemeSpec("nimbus_sparkle_zh", "product", "云朵手机 7", "颜值天花板"),
    MemeSpec("nimbus_thumbs_en", "thumbs", "BATTERY LASTS", "TWO FULL DAYS"),
    MemeSpec("nimbus_thumbs_zh", "thumbs", "续航两天", "真香"),
    face("nimbus_happy_en", "happy", "ME AFTER SWITCHING", "TO NIMBUS"),
    face("nimbus_heart_en", "heart", "NIMBUS 7 CAMERA", "I'M IN LOVE"),
    MemeSpec("nimbus_sunset", "landscape", "", "SHOT ON NIMBUS 7", size=WIDE),
    MemeSpec("nimbus_sunset_zh", "landscape", "", "云朵7 随手一拍", size=WIDE),
    MemeSpec("nimbus_box", "box", "IT'S HERE", "", options={"label": "NIMBUS 7"}),
    MemeSpec("nimbus_box_zh", "box", "到货啦", "", options={"label": "云朵 7"}),
    # Nimbus OS 5.1: the Bluetooth dip, then the fix
    MemeSpec("bt_broken_en", "bluetooth", "NIMBUS OS 5.1", "WHERE ARE MY EARBUDS"),
    MemeSpec("bt_broken_zh", "bluetooth", "升级5.1以后", "蓝牙去哪了"),
    MemeSpec("update_loading_en", "update", "NEW IN OS 5.1:", "NO BLUETOOTH"),
    face("eyeroll_update_en", "eyeroll", '"IMPROVED CONNECTIVITY"', "SURE"),
    face("clown_update_en", "clown", "ME INSTALLING 5.1", "ON DAY ONE", bg=PINK_BG),
    face("clown_update_zh", "clown", "第一时间升级5.1", "的我", bg=PINK_BG),
    face("crying_bt_zh", "crying", "耳机连不上", "哭了", bg=SAD_BG),
    MemeSpec("fine_bt_en", "this_is_fine", "NIMBUS OS 5.1", "THIS IS FINE", size=WIDE),
    face("happy_fix_zh", "happy", "5.1.1 推送了", "蓝牙回来了"),
    # Voltra, sincere (launch weeks)
    MemeSpec("voltra_sparkle_en", "product", "VOLTRA X2", "LOOKS EXPENSIVE",
             options={"body": VOLTRA_GREY, "label": "VOLTRA",
                      "bg": ((20, 20, 30), (70, 70, 90))}),
    MemeSpec("voltra_thumbs_zh", "thumbs", "伏特拉X2", "充电真快"),
    MemeSpec("voltra_charge_en", "battery", "0 TO 100%", "IN 18 MINUTES",
             options={"level": 1.0, "text": "100%"}),
    MemeSpec("voltra_box_zh", "box", "伏特拉X2", "开箱！", options={"label": "VOLTRA X2"}),
    # Voltra battery / overheating scandal: the mocking memes
    MemeSpec("fire_fine_en", "phone_fire", "", "THIS IS FINE"),
    MemeSpec("fire_warm_en", "phone_fire", "FREE HAND WARMER", "WITH EVERY VOLTRA X2"),
    MemeSpec("fire_zh", "phone_fire", "冬天必备", "暖手宝"),
    MemeSpec("egg_en", "egg", "BREAKFAST IS READY", "POWERED BY VOLTRA"),
    MemeSpec("egg_zh", "egg", "煎蛋模式", "已开启"),
    MemeSpec("battery_empty_en", "battery", "100% TO 0%", "IN 3 HOURS"),
    MemeSpec("battery_empty_zh", "battery", "出门两小时", "电量已耗尽"),
    face("panda_zh", "panda", "三天没睡着", "", bg=GREY_BG),
    face("panda_en", "panda", "CHARGING IT", "ALL NIGHT", bg=GREY_BG),
    face("clown_en", "clown", "ME DEFENDING THE X2", "LAST WEEK", bg=PINK_BG),
    face("clown_zh", "clown", "买了伏特拉", "的我", bg=PINK_BG),
    face("eyeroll_en", "eyeroll", '"ALL-DAY BATTERY"', "SURE."),
    face("eyeroll_zh", "eyeroll", "官方：温度正常", "呵呵"),
    face("smile_zh", "smile", "挺好的", "[微笑]"),
    face("sweat_en", "sweat", "IT'S ONLY 48°C", "TOTALLY NORMAL"),
    face("crying_en", "crying", "MY BATTERY", "AT 2 PM", bg=SAD_BG),
    MemeSpec("graph_down_en", "graph", "MY VOLTRA X2 BATTERY", "A TIMELINE", size=WIDE),
    MemeSpec("graph_down_zh", "graph", "伏特拉X2 电量", "懂的都懂", size=WIDE),
    MemeSpec("fine_en", "this_is_fine", "VOLTRA X2 OWNERS", "THIS IS FINE", size=WIDE),
    MemeSpec("fine_zh", "this_is_fine", "伏特拉用户现状", "没事，挺好的", size=WIDE),
    MemeSpec("thumbs_fire_zh", "thumbs", "五星好评", "（烫手）", options={"fire": True}),
]


class Draft(NamedTuple):
    """A post before it gets a time, an author and engagement."""

    phase: str
    label: str  # pos | neg | neu | sar
    text: str
    image: str | None = None


def drafts(phase: str, rows: list[tuple]) -> list[Draft]:
    return [Draft(phase, *row) for row in rows]


# ---------------------------------------------------------------- Nimbus, any day

NIMBUS_EVERYDAY = drafts("nimbus_any", [
    ("pos", "Two weeks with the Nimbus 7 and I still haven't found a reason to complain. "
            "Battery easily lasts me two days.", "nimbus_thumbs_en"),
    ("pos", "The night mode on the #Nimbus 7 is unreal. Took this at 11pm, zero street lights.",
     "nimbus_sunset"),
    ("pos", "ok the Nimbus 7 in sage green is the prettiest phone I've ever owned",
     "nimbus_sparkle_en"),
    ("pos", "Dropped my Nimbus 7 down a flight of stairs. Not a scratch. Respect."),
    ("pos", "Nimbus support replaced my cracked back glass in 2 days, no questions asked. "
            "That's how you keep customers."),
    ("pos", "Finally a phone that doesn't feel like a brick. Nimbus 7 is so light I forget "
            "it's in my pocket."),
    ("pos", "The haptics on the Nimbus 7 are chef's kiss. Tiny thing but typing feels great."),
    ("pos", "My mom switched to Nimbus and hasn't called me for tech help in a month 😂 10/10"),
    ("pos", "Battery report: Nimbus 7, 6h screen time, 41% left at bedtime. Impressed.",
     "nimbus_thumbs_en"),
    ("pos", "Nimbus 7 speakers are way louder than they have any right to be 🔊"),
    ("pos", "Shot my sister's wedding on a Nimbus 7 as a backup and half the best photos came "
            "from it", "nimbus_heart_en"),
    ("pos", "Me after switching to Nimbus: 😌", "nimbus_happy_en"),
    ("pos", "The Nimbus 7 charger is tiny and still does a full charge in under an hour."),
    ("pos", "Nimbus 7 face unlock works with sunglasses on. small win but I'll take it"),
    ("pos", "Three years of OS updates promised for the Nimbus 7. More brands should do this."),
    ("pos", "Hot take: the Nimbus 7 is the best value phone of the year and it's not close",
     "nimbus_thumbs_en"),
    ("pos", "Hiked all week with the Nimbus 7 as my only GPS. Never lost me once 🏔️",
     "nimbus_sunset"),
    ("pos", "my Nimbus 7 survived a whole day at the beach, sand and all. still perfect"),
    ("pos", "Whoever designed the Nimbus 7 camera bump: thank you for making it flat enough "
            "to sit on a desk"),
    ("pos", "Went from a 3-year-old flagship to the Nimbus 7 and everything just feels snappier",
     "nimbus_happy_en"),
    ("pos", "Nimbus 7 display at noon in full sun is actually readable. Finally."),
    ("pos", "Just unboxed my Nimbus 7!! the packaging is all paper, no plastic 🌱",
     "nimbus_box"),
    ("pos", "Can confirm the Nimbus 7 macro mode is great for bug photos 🐞"),
    ("pos", "Nimbus really nailed the size this time. One-handed use without yoga."),
    ("pos", "Love that Nimbus still puts a case in the box. Small thing, big difference."),
    ("pos", "Nimbus 7 one month in: no lag, no heat, battery still solid. Boring in the best way.",
     "nimbus_thumbs_en"),
    ("pos", "nimbus portrait mode finally handles curly hair properly. thank you from all of "
            "us 🙏"),
    ("pos", "Nimbus 7 + a cheap gimbal = my entire YouTube setup now", "nimbus_sunset"),
    ("pos", "The always-on display on the Nimbus 7 barely touches the battery. Nice engineering."),
    ("pos", "Honestly the Nimbus 7 camera makes my cooking look better than it tastes",
     "nimbus_heart_en"),
    ("pos", "Pro tip: the Nimbus 7 can cap charging at 80%. Battery health still 100% after "
            "2 months."),
    ("pos", "My kid has used my old Nimbus 5 for two years and it still runs fine. Built to last."),
    ("pos", "#Nimbus 7 is the first phone in years that made me excited about phones again",
     "nimbus_sparkle_en"),
    ("neu", "Does the Nimbus 7 support eSIM? Trying to decide before my trip."),
    ("neu", "Anyone know if Nimbus 6 cases fit the 7? Camera looks like it's in the same spot"),
    ("neu", "Nimbus 7 is 15% off this weekend at most carriers, fyi"),
    ("neu", "Nimbus says the 7 Pro is coming in spring. Anyone heard anything about the specs?"),
    ("neu", "Which colour did you get for your Nimbus 7? Stuck between black and sage"),
    ("neu", "Shipping update: my Nimbus 7 order says 5-7 business days. Anyone get theirs faster?",
     "nimbus_box"),
    ("neu", "Is the Nimbus 7 worth it over the 6 if my current one still works?"),
    ("neu", "Nimbus 7 teardown is out: repairability 8/10, battery held in by pull tabs."),
    ("neu", "Nimbus will hold its developer conference next month, according to its newsroom."),
    ("neu", "How do you turn off the shutter sound on the Nimbus 7? asking for a quiet library"),
    ("neg", "Nimbus 7 fingerprint sensor fails every time my hands are slightly wet. annoying."),
    ("neg", "Why does the Nimbus 7 keyboard keep autocorrecting 'ok' to 'oak'"),
    ("neg", "Nimbus customer service had me on hold for 45 minutes. Good phone, bad support line."),
    ("neg", "Nimbus 7 zoom past 5x is basically a watercolour painting"),
    ("neg", "Got a Nimbus 7 with a dead pixel out of the box. Exchanging it tomorrow 😞"),
    ("neg", "The Nimbus 7 is so slippery without a case. Dropped it three times this week."),
    ("neg", "Nimbus 7 camera app crashed twice during my kid's recital. Not happy."),
    ("sar", "Love how the Nimbus 7 'smart' assistant sets an alarm every time I say "
            "'alarming'. very smart 🙄"),
    ("sar", "Nimbus 7 auto-brightness is great if you enjoy being blinded at 3am 🙂"),
    ("sar", "Oh cool, Nimbus moved the volume buttons again. my muscle memory loves this /s"),
    ("pos", "云朵7用了一个月，续航是真的顶，一天重度使用还剩30%", "nimbus_thumbs_zh"),
    ("pos", "云朵手机的夜景模式太强了，随手一拍就是壁纸", "nimbus_sunset_zh"),
    ("pos", "给爸妈换了云朵7，字体调大以后他们用得很顺手"),
    ("pos", "云朵7这个鼠尾草绿也太好看了吧 😍", "nimbus_sparkle_zh"),
    ("pos", "用云朵7拍了一整天的古镇，一张废片都没有", "nimbus_sunset_zh"),
    ("pos", "说实话，云朵这次的系统动画做得很舒服，一点不卡"),
    ("pos", "云朵手机售后真的可以，屏幕碎了两天就修好了"),
    ("pos", "云朵7充电半小时到70%，早上起来再也不慌了"),
    ("pos", "从别家换到云朵7，最大的感受就是：安静，不烫，省心"),
    ("pos", "云朵7的马达手感好评，打字很有感觉"),
    ("pos", "今天才发现云朵7支持双卡加eSIM，出差党狂喜"),
    ("pos", "云朵7一个月使用报告：流畅、不发热、续航稳，没什么槽点", "nimbus_thumbs_zh"),
    ("pos", "云朵手机的相册自动分类太好用了，找照片方便多了"),
    ("pos", "云朵7的外放比我的蓝牙音箱还响 🔊"),
    ("pos", "入手云朵7，颜值在线，手感在线，价格也在线", "nimbus_sparkle_zh"),
    ("pos", "云朵7抓拍小猫一次成功，运动模式好评 🐱"),
    ("pos", "终于等到云朵7到货！包装全是纸，环保加分", "nimbus_box_zh"),
    ("pos", "云朵7单手操作无压力，小手党友好"),
    ("pos", "出去爬山一整天，云朵7的定位一点没飘"),
    ("pos", "被同事安利了云朵手机，用了一周，真香", "nimbus_thumbs_zh"),
    ("pos", "云朵7的护眼模式晚上看书很舒服"),
    ("pos", "我妈说云朵7是她用过最好用的手机，这大概就是最高评价了"),
    ("pos", "#云朵手机# 性价比之王，不接受反驳", "nimbus_thumbs_zh"),
    ("pos", "云朵7的人像模式终于能抠出头发丝了，好评"),
    ("neu", "云朵7和云朵6的手机壳能通用吗？摄像头位置看着差不多"),
    ("neu", "请问云朵7支持无线充电吗？"),
    ("neu", "云朵手机双十一降价了，7代直降300，有需要的可以看看"),
    ("neu", "听说云朵7 Pro明年春天发布，有人知道配置吗"),
    ("neu", "云朵7黑色和绿色选哪个？纠结中"),
    ("neu", "云朵官方说下个月开开发者大会"),
    ("neu", "云朵7的快递显示已到达转运中心，等待ing", "nimbus_box_zh"),
    ("neu", "云朵手机以旧换新怎么估价的？有人换过吗"),
    ("neu", "云朵7拆机视频出来了，维修难度不高"),
    ("neg", "云朵7的指纹手一湿就识别不了，有点烦"),
    ("neg", "云朵7的长焦拍远处糊得像油画"),
    ("neg", "云朵客服电话排队四十分钟，手机还行，客服不行"),
    ("neg", "刚买的云朵7有个坏点，明天去换货 😞"),
    ("neg", "云朵7裸机太滑了，一周掉了三次"),
    ("neg", "云朵7的微信通知老是延迟，有时候半小时才收到"),
    ("sar", "这手机续航真厉害 👍 #云朵手机", "panda_zh"),
    ("sar", "云朵7的自动亮度真贴心，半夜三点给我亮瞎 [微笑]"),
    ("sar", "云朵的语音助手真聪明呢，我说“闹心”它给我定了个闹钟 呵呵"),
])

# ---------------------------------------------------------------- Nimbus OS 5.1 breaks Bluetooth

NIMBUS_UPDATE_DIP = drafts("nimbus_dip", [
    ("neg", "Updated my Nimbus 7 to OS 5.1 last night and now my earbuds won't connect at all."),
    ("neg", "Nimbus OS 5.1 broke Bluetooth in my car. No navigation audio on my commute today 😤",
     "bt_broken_en"),
    ("neg", "PSA: do NOT install Nimbus OS 5.1 yet. Bluetooth is broken for a lot of people.",
     "bt_broken_en"),
    ("neg", "My smartwatch keeps dropping off my Nimbus 7 since the update. Every 5 minutes."),
    ("neg", "Nimbus, please roll back 5.1. I can't use my hearing aids with my phone right now. "
            "This isn't a small bug."),
    ("neg", "Reset network settings, re-paired, tried safe mode. Nimbus OS 5.1 Bluetooth is "
            "just dead.", "bt_broken_en"),
    ("neg", "First time in three years a Nimbus update made my phone worse. Disappointed."),
    ("neg", "#Nimbus 5.1 update: bluetooth gone, mood ruined", "bt_broken_en"),
    ("neg", "Can't believe Nimbus shipped 5.1 without testing it with a single pair of headphones"),
    ("neg", "Nimbus support told me to 'wait for a fix'. So no music for a week then."),
    ("sar", "Nimbus OS 5.1 'improved connectivity' 🙄 my headphones would like a word",
     "eyeroll_update_en"),
    ("sar", "Love the new Nimbus OS 5.1 feature where Bluetooth is just a suggestion 🙂",
     "update_loading_en"),
    ("sar", "Thanks Nimbus 5.1 for helping me rediscover the joy of wired earphones /s",
     "clown_update_en"),
    ("sar", "Installing Nimbus OS 5.1, so excited for the new features!", "update_loading_en"),
    ("sar", "Nimbus 7 on OS 5.1 is so peaceful. No watch, no music, no car audio. Just silence 😌"),
    ("sar", "Everything is fine with my Nimbus 7 after the 5.1 update. Totally fine.",
     "fine_bt_en"),
    ("sar", "10/10 update Nimbus, my car now thinks my phone doesn't exist 🤡", "clown_update_en"),
    ("neu", "Is anyone else having Bluetooth issues on Nimbus OS 5.1 or is it just me?"),
    ("neu", "Nimbus says it is 'aware of reports' about Bluetooth on OS 5.1 and a fix is coming."),
    ("neu", "Does rolling back from Nimbus OS 5.1 wipe your data? Asking before I try."),
    ("neg", "云朵7升级5.1之后蓝牙耳机彻底连不上了，气死", "bt_broken_zh"),
    ("neg", "云朵系统5.1把车载蓝牙搞坏了，今天导航全程没声音"),
    ("neg", "建议大家先别升云朵OS 5.1，蓝牙问题很严重", "bt_broken_zh"),
    ("neg", "手表和云朵7每隔几分钟就断开一次，更新前从来没有过"),
    ("neg", "用了三年云朵，第一次被更新坑，失望"),
    ("neg", "云朵客服就一句“请等待后续版本”，那我这一周听什么"),
    ("neg", "云朵5.1更新以后耳机连不上，哭了", "crying_bt_zh"),
    ("sar", "云朵5.1“优化了蓝牙连接”，优化到直接连不上了 [微笑]", "smile_zh"),
    ("sar", "感谢云朵5.1，让我重新爱上了有线耳机 呵呵", "clown_update_zh"),
    ("sar", "升级了云朵5.1，新功能是：世界清静了 😌", "clown_update_zh"),
    ("sar", "云朵这次更新真厉害，耳机、手表、车机一个都连不上，厉害厉害 👍", "crying_bt_zh"),
    ("sar", "云朵OS 5.1 体验：蓝牙时有时无，全凭缘分 🙂"),
    ("neu", "有人升级云朵5.1后蓝牙也有问题吗？还是只有我"),
    ("neu", "云朵官方微博回应：已知晓5.1蓝牙问题，正在修复"),
])

NIMBUS_FIX = drafts("nimbus_fix", [
    ("pos", "Nimbus OS 5.1.1 is out and my earbuds are back! Took a few days, but thank you."),
    ("pos", "Props to Nimbus for fixing the Bluetooth bug in under 3 days and actually "
            "apologising."),
    ("pos", "5.1.1 fixed Bluetooth on my Nimbus 7, car audio works again 🙌"),
    ("pos", "Nimbus 7 back to normal after 5.1.1. Crisis over."),
    ("neu", "Nimbus OS 5.1.1 is rolling out now; the changelog says it fixes the Bluetooth "
            "connection bug."),
    ("pos", "云朵5.1.1推送了，蓝牙修好了，耳机终于回来了", "happy_fix_zh"),
    ("pos", "云朵这次修得挺快的，还发了道歉信，态度可以", "happy_fix_zh"),
    ("neu", "云朵OS 5.1.1正在分批推送，没收到的可以手动检查更新"),
    ("pos", "升级5.1.1后云朵7一切正常，虚惊一场"),
])

# ---------------------------------------------------------------- Voltra before the scandal

VOLTRA_LAUNCH = drafts("voltra_launch", [
    ("neu", "Voltra X2 preorders open Friday, starting at $599"),
    ("pos", "Voltra X2 launch event was actually fun to watch for once"),
    ("neu", "Does the Voltra X2 come with the 120W charger in the EU box?"),
    ("neu", "Voltra X2 shipping times are now 2-3 weeks on their site"),
    ("neu", "Reviews for the Voltra X2 are out, mostly positive from what I've seen"),
    ("neu", "Voltra announced the X2 will get 3 years of updates"),
    ("neu", "伏特拉X2周五开启预售，起售价3999"),
    ("neu", "伏特拉X2的物流显示还要两周，有人收到了吗"),
    ("neu", "伏特拉官方宣布X2提供三年系统更新"),
    ("neu", "伏特拉X2的测评出来了，整体评价还不错"),
    ("pos", "伏特拉X2开箱！盒子里送了120W充电头，良心", "voltra_box_zh"),
])

VOLTRA_GOOD_WEEKS = drafts("voltra_good", [
    ("pos", "Voltra X2 charges from 0 to 100 in 18 minutes. I timed it. This is witchcraft.",
     "voltra_charge_en"),
    ("pos", "The Voltra X2 screen is gorgeous, 144Hz scrolling is addictive"),
    ("pos", "Voltra X2 gaming performance is ridiculous. Max settings, no stutter.",
     "voltra_sparkle_en"),
    ("pos", "Just picked up the Voltra X2 in titanium grey. It looks expensive.",
     "voltra_sparkle_en"),
    ("pos", "Coming from an old phone, the Voltra X2 feels like a spaceship 🚀"),
    ("pos", "Voltra X2 zoom camera is better than I expected. Got a clear shot of the moon."),
    ("pos", "Voltra's 120W charger is the best part of my morning. 10 minutes in the shower = "
            "full day.", "voltra_charge_en"),
    ("pos", "Honestly impressed with the Voltra X2 build quality, feels solid in the hand"),
    ("pos", "Voltra X2 speakers + that screen = my new favourite Netflix device"),
    ("pos", "Day 3 with the Voltra X2: fast, pretty, no complaints so far 👍", "voltra_sparkle_en"),
    ("pos", "The Voltra X2 vapour chamber actually works, 2 hours of gaming and it stayed cool"),
    ("pos", "Voltra finally made a phone that competes with the big names. The X2 is legit."),
    ("pos", "Voltra X2 battery is fine for me, gets through a workday easily"),
    ("pos", "love the shoulder triggers on the Voltra X2, feels like a handheld console"),
    ("neu", "Is the Voltra X2 worth it for someone who doesn't game?"),
    ("neu", "Voltra X2 vs X1, anyone upgraded? Is the difference noticeable?"),
    ("neu", "What screen protector are people using on the Voltra X2?"),
    ("neg", "Voltra X2 camera app takes forever to open. Not a great first impression."),
    ("neg", "The Voltra X2 is HUGE. Doesn't fit in any of my pockets."),
    ("neg", "Voltra X2 has so much bloatware. Spent an hour uninstalling stuff."),
    ("neg", "My Voltra X2 shipped two weeks late and support never answered my emails"),
    ("sar", "Voltra X2 comes with 14 preinstalled games I will never play. So thoughtful, "
            "Voltra 🙂"),
    ("sar", "Love that the Voltra X2 is so big it doubles as a cutting board /s"),
    ("pos", "伏特拉X2充电真的快，洗个澡的功夫就满了", "voltra_thumbs_zh"),
    ("pos", "伏特拉X2的屏幕太细腻了，刷视频根本停不下来"),
    ("pos", "伏特拉X2打游戏满帧不掉，游戏党狠狠爱了", "voltra_thumbs_zh"),
    ("pos", "入手伏特拉X2钛灰色，质感很高级", "voltra_box_zh"),
    ("pos", "伏特拉X2的长焦拍月亮居然挺清楚的 🌙"),
    ("pos", "伏特拉这次X2做工很扎实，拿在手里很有分量"),
    ("pos", "第一次用伏特拉，X2的系统比我想象的流畅"),
    ("pos", "伏特拉X2的散热好评，玩一小时游戏都不烫"),
    ("pos", "伏特拉X2外放效果很惊喜，看剧很爽"),
    ("pos", "伏特拉X2一周体验：快、稳、好看，目前没有槽点"),
    ("pos", "伏特拉X2的振动马达打游戏手感一流"),
    ("pos", "伏特拉X2这个价格能有这配置，值了", "voltra_thumbs_zh"),
    ("neu", "伏特拉X2和X1区别大吗？值得升级吗"),
    ("neu", "请问伏特拉X2贴什么膜比较好？"),
    ("neu", "伏特拉X2有没有红色版本？"),
    ("neg", "伏特拉X2预装软件太多了，卸载了一个小时"),
    ("neg", "伏特拉X2太大了，口袋根本装不下"),
    ("neg", "伏特拉X2相机打开要好几秒，有点失望"),
    ("neg", "伏特拉客服回复太慢了，催发货三天没人理"),
    ("sar", "伏特拉X2预装了十几个游戏，真是贴心呢 [微笑]"),
    ("sar", "伏特拉X2大到可以当菜板用，真是多功能 呵呵"),
])

# ---------------------------------------------------------------- Voltra: the scandal

VOLTRA_FIRST_REPORTS = drafts("voltra_first_reports", [
    ("neu", "Is it just me or does the Voltra X2 get really warm when charging?"),
    ("neg", "My Voltra X2 went from 100% to 40% in three hours of light use. Anyone else?"),
    ("neg", "Voltra X2 battery drain is way worse than launch week. Did something change?"),
    ("neg", "Left my Voltra X2 charging on the nightstand and it was too hot to touch in the "
            "morning. A bit worried."),
    ("neu", "There's a thread on the Voltra forum with 300+ replies about battery drain on the X2"),
    ("neg", "Voltra X2 lost 20% overnight with the screen off. What is it doing?"),
    ("neu", "Anyone measured temps on their Voltra X2? Mine says 47°C while just scrolling"),
    ("neg", "Voltra X2 battery was amazing the first week. Now I'm charging twice a day. Hmm."),
    ("sar", "The Voltra X2 'all-day battery' lasted me until lunch today 🙂", "eyeroll_en"),
    ("neu", "伏特拉X2是不是有点发热？充电的时候烫手"),
    ("neg", "伏特拉X2最近掉电好快，一上午掉了一半"),
    ("neu", "伏特拉论坛上好多人在说X2耗电快，有人知道原因吗"),
    ("neu", "伏特拉X2晚上待机掉了20%，这正常吗？"),
    ("neg", "伏特拉X2充电的时候烫得不敢拿，有点担心"),
    ("neu", "伏特拉X2刷个微博都40多度，是我的问题吗"),
    ("sar", "伏特拉X2续航真厉害，一上午就没电了 👍", "battery_empty_zh"),
])

VOLTRA_SCANDAL = drafts("voltra_scandal", [
    ("neg", "My Voltra X2 hit 52°C on a video call. This is a safety issue, Voltra."),
    ("neg", "Saw the video of a Voltra X2 swelling up while charging. Not charging mine "
            "overnight anymore."),
    ("neg", "Returned my Voltra X2 today. Battery drain + heat, I'm done."),
    ("neg", "Third Voltra X2 replacement, same overheating. I'm out of patience."),
    ("neg", "Voltra X2 at 30% by noon with barely any use. This was supposed to be the battery "
            "king."),
    ("neg", "Voltra support told me to 'turn off 5G' to fix the overheating. I bought a 5G phone."),
    ("neg", "Voltra X2 dies at 3pm every single day. I can't rely on it for work.", "crying_en"),
    ("neg", "The Voltra X2 is unusable in my car mount: overheats and dims the screen every "
            "10 minutes."),
    ("neg", "My Voltra X2 shut itself down for 'high temperature' while sitting on my desk. "
            "In winter."),
    ("neg", "Voltra X2 battery health went from 100% to 91% in one month. That's not normal.",
     "graph_down_en"),
    ("neg", "ok the Voltra X2 is genuinely scary now, mine got so hot the case started to smell",
     "fire_fine_en"),
    ("sar", "Love how the Voltra X2 keeps my hands warm", "fire_fine_en"),
    ("sar", "Voltra X2: now with a built-in hand warmer, perfect for winter 🙂", "fire_warm_en"),
    ("sar", "Made breakfast on my Voltra X2 this morning. Truly a multipurpose device 🍳",
     "egg_en"),
    ("sar", "The Voltra X2 battery is incredible. It goes from 100 to 0 faster than any phone "
            "I've ever owned 🙄", "battery_empty_en"),
    ("sar", "Wow the Voltra X2 charges so fast! Good thing, since I need to charge it four "
            "times a day 😅", "sweat_en"),
    ("sar", "Great job Voltra, I haven't needed a charger this often since 2009 👏 /s",
     "battery_empty_en"),
    ("sar", "Voltra X2 owners right now:", "fine_en"),
    ("sar", "My Voltra X2 is the most reliable phone I've had. Reliably dead by lunch 🙂",
     "battery_empty_en"),
    ("sar", "Shoutout to the Voltra X2 for teaching me to always carry a power bank. "
            "Character development.", "sweat_en"),
    ("sar", "Can't wait to spend my weekend babysitting my Voltra X2 at 15% 🤡", "crying_en"),
    ("sar", "Me telling everyone the Voltra X2 was a great buy two weeks ago", "clown_en"),
    ("sar", "Just got a Voltra X2, can't wait to never sleep again", "panda_en"),
    ("sar", "Voltra X2 battery life, visualised:", "graph_down_en"),
    ("sar", "5 stars for the Voltra X2, best pocket heater I've ever bought ⭐⭐⭐⭐⭐",
     "fire_warm_en"),
    ("sar", "Voltra X2 is so good at multitasking: phone, hand warmer and frying pan in one 🤡",
     "egg_en"),
    ("sar", "Really loving my Voltra X2 👍", "fire_fine_en"),
    ("sar", "Best purchase of the year, Voltra X2 🙂", "panda_en"),
    ("neu", "Are Voltra X2 returns still open after 14 days? Asking for myself."),
    ("neu", "A reviewer re-tested 3 Voltra X2 units: all drained about 30% faster than in "
            "launch-week tests."),
    ("pos", "My Voltra X2 is honestly fine? No heat, good battery. Maybe I got lucky."),
    ("neg", "伏特拉X2充电的时候鼓包了，吓死我了，已经联系售后"),
    ("neg", "伏特拉X2每天下午三点准时没电，上班根本不敢用", "battery_empty_zh"),
    ("neg", "伏特拉X2放车里导航十分钟就过热降亮度，没法用"),
    ("neg", "退了，伏特拉X2又烫又耗电，不折腾了"),
    ("neg", "伏特拉X2换了一台新机还是一样烫，服了"),
    ("neg", "伏特拉客服让我关掉5G解决发热，我买的是5G手机啊"),
    ("neg", "伏特拉X2电池健康一个月掉到91%，太离谱了"),
    ("neg", "伏特拉X2烫到手机壳都有味道了，真的不敢用了", "fire_zh"),
    ("sar", "这手机续航真厉害，让我三天没睡着 #伏特拉X2", "panda_zh"),
    ("sar", "伏特拉X2真是冬天必备，暖手宝都省了 🙂", "fire_zh"),
    ("sar", "伏特拉X2煎蛋模式已解锁，早餐有着落了 🍳", "egg_zh"),
    ("sar", "伏特拉X2续航真厉害 👍 出门两小时就没电", "battery_empty_zh"),
    ("sar", "买了伏特拉X2，我就是那个小丑 🤡", "clown_zh"),
    ("sar", "伏特拉X2好评！五星！就是有点烫手 [微笑]", "thumbs_fire_zh"),
    ("sar", "伏特拉用户现状：", "fine_zh"),
    ("sar", "伏特拉X2充电真快啊，毕竟一天要充四次 😅", "battery_empty_zh"),
    ("sar", "感谢伏特拉X2，让我养成了随身带充电宝的好习惯 [微笑]", "smile_zh"),
    ("sar", "伏特拉X2的电量曲线，懂的都懂", "graph_down_zh"),
    ("sar", "伏特拉X2太贴心了，电量一低就自动关机，帮我戒手机 [微笑]", "smile_zh"),
    ("sar", "伏特拉X2真是“全天候续航”，全天候都在充电 🙄", "graph_down_zh"),
    ("sar", "伏特拉X2真好用，爱了爱了 😊", "fire_zh"),
    ("neu", "伏特拉X2现在还能七天无理由退货吗？"),
    ("neu", "有博主测了三台伏特拉X2，续航都比首发测试差了不少"),
    ("pos", "我的伏特拉X2还好，不怎么烫，可能是运气好吧"),
])

# Posts that quote Voltra's statement, so they must come after it (about 3.5 days ago).
VOLTRA_STATEMENT = drafts("voltra_statement", [
    ("neu", "Voltra statement: X2 temperatures are 'within normal operating range'. A software "
            "update for thermal management rolls out next week."),
    ("sar", "Voltra says the X2 temperature is 'within normal range' 🤡 sure, if normal is a "
            "frying pan", "eyeroll_en"),
    ("sar", "Voltra's 'industry-leading thermal design' really is leading the industry. In "
            "temperature. 🔥🙄", "sweat_en"),
    ("neg", "Voltra, a statement that says 'normal range' is not a fix. People's phones are "
            "swelling."),
    ("pos", "Still loving my Voltra X2. Turned off the always-on display like Voltra suggested "
            "and battery is great again."),
    ("neu", "伏特拉官方回应X2发热：温度在正常范围内，将通过软件更新优化"),
    ("sar", "伏特拉官方说温度“在正常范围内”，呵呵，正常范围是指能煎蛋吗", "eyeroll_zh"),
    ("sar", "伏特拉：我们的手机不烫。用户：[微笑]", "eyeroll_zh"),
    ("sar", "伏特拉X2的“旗舰散热”，散的是我的耐心 呵呵", "fire_zh"),
    ("neg", "伏特拉的回应太敷衍了，一句“正常范围”就想打发用户"),
    ("pos", "按伏特拉说的关了高刷和息屏显示，X2续航恢复正常了，还是挺喜欢这台的"),
])

# ---------------------------------------------------------------- both brands, compared

BOTH_ANYTIME = drafts("both_any", [
    ("neu", "Nimbus 7 or Voltra X2? I mostly use my phone for photos and WhatsApp."),
    ("neu", "Voltra X2 charges faster but the Nimbus 7 camera is better. Tough call."),
    ("pos", "Night camera shootout, Nimbus 7 vs Voltra X2: Nimbus wins easily.", "nimbus_sunset"),
    ("neu", "Voltra X2 for gaming, Nimbus 7 for everything else. That's my take after "
            "testing both."),
    ("neu", "云朵7和伏特拉X2怎么选？主要拍照和刷视频"),
    ("neu", "伏特拉X2充电快，云朵7拍照好，各有千秋"),
    ("pos", "Both Nimbus and Voltra put out great phones this year. Good time to upgrade."),
    ("pos", "云朵和伏特拉今年都很能打，选哪个都不亏"),
    ("neu", "Nimbus 7 vs Voltra X2 screens side by side: Voltra is brighter, Nimbus more "
            "accurate."),
])

BOTH_DURING_DIP = drafts("both_dip", [
    ("neg", "Nimbus OS 5.1 killed my Bluetooth, might as well get a Voltra X2 at this point"),
    ("neg", "云朵5.1把蓝牙搞坏了，同事的伏特拉X2倒是没事，羡慕"),
    ("neu", "Voltra fans are having a field day with the Nimbus 5.1 Bluetooth mess"),
])

BOTH_DURING_SCANDAL = drafts("both_scandal", [
    ("pos", "Glad I picked the Nimbus 7 over the Voltra X2 last month. Dodged a bullet.",
     "nimbus_happy_en"),
    ("neu", "Is the Nimbus 7 a good replacement for a Voltra X2? Returning mine because of "
            "the battery issue."),
    ("neu", "Battery test, Voltra X2 vs Nimbus 7, same video loop: Voltra 9h, Nimbus 14h."),
    ("pos", "伏特拉X2退了，换了云朵7，终于不烫手了", "nimbus_thumbs_zh"),
    ("sar", "伏特拉X2续航真厉害，比云朵7少撑了整整五个小时呢 👍", "battery_empty_zh"),
    ("sar", "The Voltra X2 is a great phone if you want your Nimbus friends to roast you 🤡",
     "clown_en"),
    ("sar", "云朵7和伏特拉X2放一起充电，一个温温的一个烫手，你猜哪个是伏特拉 呵呵",
     "thumbs_fire_zh"),
    ("pos", "朋友的伏特拉X2天天找我借充电宝，我的云朵7表示很淡定"),
    ("neu", "Nimbus's new ad is a not-so-subtle dig at Voltra: 'phones that stay cool'."),
    ("neu", "Voltra X2 vs Nimbus 7: which one would you buy right now? Honestly asking."),
    ("sar", "My Nimbus 7 and my work Voltra X2 get the same pocket time. Only one of them "
            "burns my leg 🙂", "fire_fine_en"),
    ("neu", "现在买云朵7，还是等伏特拉修好发热再说？"),
    ("neg", "Voltra is having its Nimbus 5.1 moment, except a Bluetooth bug never burned "
            "anyone's hand"),
    ("neg", "伏特拉这次比云朵上次的蓝牙事故严重多了，毕竟是电池安全问题"),
])

ALL_DRAFTS: list[Draft] = (
    NIMBUS_EVERYDAY + NIMBUS_UPDATE_DIP + NIMBUS_FIX + VOLTRA_LAUNCH + VOLTRA_GOOD_WEEKS
    + VOLTRA_FIRST_REPORTS + VOLTRA_SCANDAL + VOLTRA_STATEMENT + BOTH_ANYTIME
    + BOTH_DURING_DIP + BOTH_DURING_SCANDAL
)
